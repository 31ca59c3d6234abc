"""What a route says about itself: its request and answer models and its error codes.

Each view carries its own `Doc` (the `@documented(...)` decorator), and the OpenAPI document
(`widget_api.openapi`) is read from the app's routes, so a route is described where it is
written and nowhere else. A documented view may return its answer model: it is serialized to
JSON here, and a model the view did not declare is a programming error, not a silent drift.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ParamSpec

from flask import Response, jsonify
from pydantic import BaseModel

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Answer:
    """One success answer: a media type with a model (JSON) or a plain description."""

    media: str | None
    model: type[BaseModel] | None = None
    description: str = "OK"
    headers: tuple[str, ...] = ()


HTML = Answer("text/html", description="An HTML page.")
LOGIN_FORM = Answer("text/html", description="Login form.")
SEE_OTHER = Answer(None, description="Redirect after a form.", headers=("Location",))
NOT_MODIFIED = Answer(None, description="The cached copy is current (ETag).")
CSV = Answer("text/csv", description="CSV download.")
JSON_DOWNLOAD = Answer(JSON, description="JSON download.")

# Codes that whole families of routes share.
BODY_ERRORS = ("invalid_json", "payload_too_large", "unsupported_media_type", "validation_failed")
ADMIN_API = ("admin_token_invalid", "rate_limited", "unknown_company", "not_found",
             "database_unavailable")  # fmt: skip
ADMIN_PAGE = ("unknown_company", "not_found", "database_unavailable")
ADMIN_FORM = (*ADMIN_PAGE, "admin_token_invalid", "csrf_failed", "payload_too_large")
LEAD_FILTERS = ("validation_failed", "lead_status_invalid")
TOOL_TOKEN = ("token_missing", "token_invalid", "token_expired", "token_wrong_scope")


@dataclass(frozen=True)
class Doc:
    """A view's OpenAPI operation, minus what the rule says (path, parameters, methods)."""

    summary: str
    answers: Mapping[int, Answer]
    errors: tuple[str, ...] = ()
    body: type[BaseModel] | None = None
    body_media: str = JSON
    query: type[BaseModel] | None = None
    security: tuple[str, ...] = ()
    headers: tuple[str, ...] = ()
    tags: tuple[str, ...] = field(default=())

    @property
    def models(self) -> tuple[type[BaseModel], ...]:
        return tuple(a.model for a in self.answers.values() if a.model is not None)


P = ParamSpec("P")
# What `documented(...)` returns (helpers that preset its arguments return this too).
Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _answers(ok: type[BaseModel] | Answer | Mapping[int, Answer] | None, status: int) -> Any:
    if ok is None:
        return {status: Answer(JSON)}
    if isinstance(ok, Answer):
        return {status: ok}
    if isinstance(ok, type):
        return {status: Answer(JSON, ok)}
    return dict(ok)


def documented(
    summary: str,
    *,
    ok: type[BaseModel] | Answer | Mapping[int, Answer] | None = None,
    status: int = 200,
    errors: Iterable[str] = (),
    body: type[BaseModel] | None = None,
    form: bool = False,
    query: type[BaseModel] | None = None,
    security: str | None = None,
    headers: Iterable[str] = (),
    tags: Iterable[str] = (),
) -> Callable[[Callable[P, Any]], Callable[P, Any]]:
    """Attach the view's `Doc`; an answer model the view returns becomes its JSON response."""
    doc = Doc(
        summary, _answers(ok, status), tuple(errors), body, FORM if form else JSON, query,
        (security,) if security else (), tuple(headers), tuple(tags),
    )  # fmt: skip

    def decorate(view: Callable[P, Any]) -> Callable[P, Any]:
        if inspect.iscoroutinefunction(view):  # a WebSocket handler (ASGI): described only
            view.openapi = doc  # type: ignore[attr-defined]
            return view

        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            result = view(*args, **kwargs)
            if isinstance(result, BaseModel):
                return as_json(doc, result)
            if isinstance(result, tuple) and result and isinstance(result[0], BaseModel):
                return as_json(doc, result[0], result[1])
            return result

        wrapper.openapi = doc  # type: ignore[attr-defined]
        return wrapper

    return decorate


def as_json(doc: Doc, answer: BaseModel, status: int | None = None) -> Response:
    """`answer` as JSON with its documented status (the first one its model answers with)."""
    statuses = [
        s for s, a in doc.answers.items() if a.model is not None and isinstance(answer, a.model)
    ]
    if not statuses or (status is not None and status not in statuses):
        raise TypeError(f"{type(answer).__name__} is not an answer of {doc.summary!r}")
    response = jsonify(answer.model_dump(mode="json"))
    response.status_code = status or statuses[0]
    return response


def doc_of(view: Callable[..., Any]) -> Doc | None:
    found = getattr(view, "openapi", None)
    return found if isinstance(found, Doc) else None


def answer(view: Callable[..., Any], model: BaseModel, status: int | None = None) -> Response:
    """The JSON response for `model`, checked against `view`'s Doc (for views that go on to set
    headers on the response)."""
    doc = doc_of(view)
    if doc is None:
        raise TypeError(f"{view.__name__} is not documented")
    return as_json(doc, model, status)
