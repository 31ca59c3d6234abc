"""Reading JSON request bodies the same way on every route.

JSON only (`unsupported_media_type`), parseable (`invalid_json`), within the size limit (Flask's
MAX_CONTENT_LENGTH → `payload_too_large`) and matching a pydantic model (`validation_failed`,
whose details name fields and reasons but never echo the input back).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

from flask import current_app, request
from pydantic import BaseModel, ValidationError

from widget_api.errors import ApiError

M = TypeVar("M", bound=BaseModel)


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in err["loc"]) or "(body)", "reason": err["msg"]}
        for err in exc.errors(include_input=False, include_url=False, include_context=False)
    ]


def json_body(model: type[M]) -> M:
    """The request body validated as `model`, or an ApiError with a stable code."""
    if request.mimetype != "application/json":
        raise ApiError("unsupported_media_type")
    raw = request.get_data(cache=True)
    limit: int | None = current_app.config.get("MAX_CONTENT_LENGTH")
    # A streamed (chunked) body is cut at the limit by werkzeug, not refused: a cut body must
    # not be parsed as if it were whole.
    cut = limit is not None and request.content_length is None and len(raw) >= limit
    if cut and request.environ["wsgi.input"].read(1):
        raise ApiError("payload_too_large")
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: `[[[[…` bodies
        raise ApiError("invalid_json") from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError("validation_failed", details=validation_details(exc)) from None
