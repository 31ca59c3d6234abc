"""The OpenAPI document: complete (every Flask rule), well-formed, generated from the models."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from jsonschema import Draft202012Validator

from widget_api.app import create_app
from widget_api.errors import CATALOGUE
from widget_api.openapi import REF_TEMPLATE, build_openapi, openapi_path
from widget_api.routes.admin import LeadQuery, StatusChange
from widget_api.routes.session import SessionRequest
from widget_api.routes.tool import ToolCallRequest
from widget_api.services import Services

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return build_openapi()


@pytest.fixture
def app(fuzz_stack: Services) -> Flask:
    return create_app(services=fuzz_stack)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_registered_route_and_method_is_documented(app: Flask, doc: dict[str, Any]) -> None:
    documented = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            if (openapi_path(rule.rule), method.lower()) not in documented:
                missing.append(f"{method} {rule.rule}")
    assert missing == []


def test_nothing_is_documented_that_is_not_routed(app: Flask, doc: dict[str, Any]) -> None:
    from widget_api.serving.asgi import websocket_routes

    routed = {(openapi_path(r.rule), m.lower()) for r in app.url_map.iter_rules()
              for m in r.methods or ()}  # fmt: skip
    # WebSocket endpoints are served by the ASGI layer, beside Flask's routes (an upgrade GET).
    routed |= {(openapi_path(r.pattern), "get") for r in websocket_routes()}
    extra = [(p, m) for p, ops in doc["paths"].items() for m in ops if (p, m) not in routed]
    assert extra == []


def test_served_document_is_the_generated_one(app: Flask, doc: dict[str, Any]) -> None:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == doc


def test_component_schemas_are_valid_json_schema(doc: dict[str, Any]) -> None:
    for name, schema in doc["components"]["schemas"].items():
        Draft202012Validator.check_schema(schema), name


def test_every_ref_resolves(doc: dict[str, Any]) -> None:
    names = set(doc["components"]["schemas"])
    prefix = REF_TEMPLATE.split("{")[0]
    refs = _refs(doc)
    assert refs
    assert all(r.startswith(prefix) and r[len(prefix) :] in names for r in refs)


def test_operations_are_well_formed(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in doc["paths"].items():
        template = set(re.findall(r"{(\w+)}", path))
        for op in ops.values():
            declared = {p["name"] for p in op["parameters"] if p["in"] == "path"}
            assert declared == template, path
            assert op["responses"], path
            for status, response in op["responses"].items():
                assert re.fullmatch(r"[1-5]\d\d", status) and response["description"]
                for media in response.get("content", {}).values():
                    Draft202012Validator.check_schema(media["schema"])
            for scheme in (s for entry in op.get("security", []) for s in entry):
                assert scheme in doc["components"]["securitySchemes"]


def test_error_responses_list_catalogue_codes_of_their_status(doc: dict[str, Any]) -> None:
    seen = 0
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, response in op["responses"].items():
                for code in response.get("x-error-codes", []):
                    assert CATALOGUE[code].status == int(status)
                    seen += 1
    assert seen > 40
    envelope = doc["components"]["schemas"]["ErrorBody"]["properties"]["code"]
    assert set(envelope["enum"]) == set(CATALOGUE)


@pytest.mark.parametrize(
    ("path", "method", "model"),
    [
        ("/api/realtime/session", "post", SessionRequest),
        ("/api/chat/{company_id}/tool", "post", ToolCallRequest),
        ("/api/admin/{company_id}/leads/{lead_id}", "patch", StatusChange),
    ],
)
def test_request_bodies_come_from_the_validating_models(
    doc: dict[str, Any], path: str, method: str, model: Any
) -> None:
    body = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[1]
    assert doc["components"]["schemas"][name] == model.model_json_schema(ref_template=REF_TEMPLATE)


def test_query_parameters_come_from_the_listing_model(doc: dict[str, Any]) -> None:
    params = doc["paths"]["/api/admin/{company_id}/leads"]["get"]["parameters"]
    assert {p["name"] for p in params if p["in"] == "query"} == set(LeadQuery.model_fields)
