"""The OpenAPI 3.1 document of every HTTP route, served at `/api/openapi.json`.

It is read from the routes themselves: each view carries its `Doc` (`routes.documented`), with
the pydantic models it validates its input with and the answer models it returns, so the
document cannot drift from the code and nothing is listed twice. Paths, path parameters and
methods come from the app's URL map (and the ASGI layer's WebSocket routes). Error answers use
the one envelope of `widget_api.errors`; each response lists its possible codes in
`x-error-codes` (the fuzz suite holds the server to it).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Literal

from flask import Blueprint, Flask, Response, current_app, jsonify
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import models_json_schema

from widget_api.errors import CATALOGUE
from widget_api.routes.documented import JSON, Answer, Doc, doc_of, documented
from widget_api.vocabulary import COMPANY_ID_PATTERN

bp = Blueprint("openapi", __name__)

REF_TEMPLATE = "#/components/schemas/{model}"


class ErrorBody(BaseModel):
    code: Literal[tuple(CATALOGUE)]  # type: ignore[valid-type]
    message: str
    details: list[Any] = Field(default_factory=list)


class ErrorEnvelope(BaseModel):
    """Every JSON error: a stable code from the catalogue, a message, optional details."""

    model_config = ConfigDict(extra="forbid")
    error: ErrorBody


SECURITY_SCHEMES = {
    "toolToken": {"type": "http", "scheme": "bearer", "description": "From the session route."},
    "adminToken": {"type": "http", "scheme": "bearer", "description": "The company's admin token."},
    "adminCookie": {"type": "apiKey", "in": "cookie", "name": "widget_admin"},
}

_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def openapi_path(rule: str) -> str:
    """`/a/<int:x>/<y>` → `/a/{x}/{y}`."""
    return _RULE_PARAM.sub(lambda m: "{" + m.group(2) + "}", rule)


def _path_parameters(rule: str) -> list[dict[str, Any]]:
    out = []
    for converter, name in _RULE_PARAM.findall(rule):
        if converter == "int":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
        elif name == "company_id":
            schema = {"type": "string", "pattern": COMPANY_ID_PATTERN}
        else:
            schema = {"type": "string", "minLength": 1}
        out.append({"name": name, "in": "path", "required": True, "schema": schema})
    return out


def _not_null(schema: dict[str, Any]) -> dict[str, Any]:
    # Query strings cannot carry null: `X | None` fields are simply optional there.
    options = schema.get("anyOf")
    if options:
        rest = [s for s in options if s.get("type") != "null"]
        if len(rest) == 1:
            merged = {k: v for k, v in schema.items() if k != "anyOf"}
            return {**rest[0], **merged}
    return schema


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    # Listing forms submit every field, so an empty value means "not given" (the views drop them).
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required,
         "schema": {"anyOf": [_not_null(prop), {"const": ""}]}}
        for name, prop in schema.get("properties", {}).items()
    ]  # fmt: skip


def _error_responses(codes: tuple[str, ...]) -> dict[str, Any]:
    by_status: dict[int, list[str]] = {}
    for code in dict.fromkeys(codes):
        by_status.setdefault(CATALOGUE[code].status, []).append(code)
    out = {}
    for status, status_codes in sorted(by_status.items()):
        out[str(status)] = {
            "description": "Error: " + ", ".join(status_codes),
            "x-error-codes": status_codes,
            "content": {JSON: {"schema": {"$ref": REF_TEMPLATE.format(model="ErrorEnvelope")}}},
        }
    return out


def _merge(responses: dict[str, Any], status: int, entry: dict[str, Any]) -> None:
    # An HTML page and a JSON error can share a status (a 401 login form vs admin_token_invalid).
    current = responses.get(str(status))
    if current is None:
        responses[str(status)] = entry
        return
    current.setdefault("content", {}).update(entry.get("content", {}))
    current["description"] = f"{entry['description']} / {current['description']}"


def _answer_entry(answer: Answer, refs: dict[type[BaseModel], dict[str, Any]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"description": answer.description}
    if answer.media is not None:
        schema = refs[answer.model] if answer.model is not None else {}
        entry["content"] = {answer.media: {"schema": schema}}
    if answer.headers:
        entry["headers"] = {h: {"schema": {"type": "string"}} for h in answer.headers}
    return entry


# Any request's head (request line and headers) can be longer than the server accepts
# (WIDGET_SERVER_MAX_HEADER_BYTES): the serving layer answers 431 before the app sees it.
SERVING_ERRORS = ("headers_too_large",)


IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})


def operations(app: Flask) -> Iterator[tuple[str, str, Doc, str]]:
    """(rule, method, doc, blueprint) for every documented route, in the URL map's order.

    WebSocket endpoints are served by the ASGI layer beside Flask's routes (an upgrade GET);
    their handlers carry a Doc the same way. A Flask rule without a Doc is left out here (a
    test holds every rule to having one).
    """
    for rule in app.url_map.iter_rules():
        doc = doc_of(app.view_functions[rule.endpoint])
        if doc is not None:
            blueprint = rule.endpoint.rpartition(".")[0]
            for method in sorted((rule.methods or set()) - IGNORED_METHODS):
                yield rule.rule, method.lower(), doc, blueprint
    from widget_api.serving.asgi import websocket_routes

    for route in websocket_routes():
        doc = doc_of(route.handler)
        if doc is not None:
            yield route.pattern, "get", doc, "widget"


def _operation(
    rule: str, method: str, doc: Doc, tag: str, refs: dict[type[BaseModel], dict[str, Any]]
) -> dict[str, Any]:
    responses = _error_responses(doc.errors)
    for status, answer in doc.answers.items():
        _merge(responses, status, _answer_entry(answer, refs))
    for serving_status, entry in _error_responses(SERVING_ERRORS).items():
        responses.setdefault(serving_status, entry)
    params = _path_parameters(rule)
    if doc.query is not None:
        params += _query_parameters(doc.query)
    params += [{"name": h, "in": "header", "required": False, "schema": {"type": "string"}}
               for h in doc.headers]  # fmt: skip
    out: dict[str, Any] = {
        "operationId": f"{method}_{re.sub(r'[^a-zA-Z0-9]+', '_', rule).strip('_') or 'root'}",
        "summary": doc.summary,
        "tags": list(doc.tags or (tag,)),
        "parameters": params,
        "responses": responses,
    }
    if doc.body is not None:
        out["requestBody"] = {
            "required": True,
            "content": {doc.body_media: {"schema": refs[doc.body]}},
        }
    if doc.security:
        out["security"] = [{name: []} for name in doc.security]
    return out


def _schemas(docs: list[Doc]) -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """One JSON schema per model, requests in validation mode and answers in serialization mode."""
    inputs = {doc.body for doc in docs if doc.body is not None}
    outputs = {model for doc in docs for model in doc.models}
    outputs.add(ErrorEnvelope)
    keys: list[tuple[type[BaseModel], Literal["validation", "serialization"]]] = [
        *((m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)),
        *((m, "serialization") for m in sorted(outputs, key=lambda m: m.__name__)),
    ]
    mapping, top = models_json_schema(keys, ref_template=REF_TEMPLATE)
    refs: dict[type[BaseModel], dict[str, Any]] = {
        model: schema  # type: ignore[misc]
        for (model, _mode), schema in mapping.items()
    }
    return refs, dict(top.get("$defs", {}))


def route_table() -> Flask:
    """An app with every route registered and no services: enough to read the routes' Docs."""
    from widget_api.app import register_routes

    app = Flask("widget_api")
    register_routes(app)
    return app


def build_openapi(app: Flask | None = None, server_url: str | None = None) -> dict[str, Any]:
    """The whole document, read from `app`'s routes (deterministic; no request state)."""
    found = list(operations(app or route_table()))
    refs, components = _schemas([doc for _rule, _method, doc, _bp in found])
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, doc, blueprint in found:
        paths.setdefault(openapi_path(rule), {})[method] = _operation(
            rule, method, doc, blueprint, refs
        )
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "Sales widget API",
            "version": "1.0.0",
            "description": "Read from the routes: their request and answer models; errors use "
            "one envelope with catalogue codes (`x-error-codes` per response).",
        },
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


@bp.get("/api/openapi.json")
@documented("This document.", ok=Answer(JSON, description="OpenAPI 3.1."), tags=("meta",))
def openapi_json() -> Response:
    """The OpenAPI document of this server."""
    if "openapi" not in current_app.extensions:
        current_app.extensions["openapi"] = build_openapi(current_app._get_current_object())  # type: ignore[attr-defined]
    response = jsonify(current_app.extensions["openapi"])
    response.headers["Cache-Control"] = "public, max-age=300"
    return response
