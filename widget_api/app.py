"""The Flask application factory."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from widget_api.errors import ApiError
from widget_api.settings import Settings

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors mapped onto catalogue codes, so even routing failures answer in JSON.
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 415: "unsupported_media_type"}


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the app from one Settings object (from the environment when not given)."""
    settings = settings or Settings(**overrides)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["settings"] = settings
    _register_error_handlers(app)

    from widget_api.routes import health

    app.register_blueprint(health.bp)
    return app


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):  # type: ignore[no-untyped-def]
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(_err: RequestEntityTooLarge):  # type: ignore[no-untyped-def]
        err = ApiError("payload_too_large")
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        code = _HTTP_CODES.get(exc.code or 500)
        if code is None:
            err = ApiError("validation_failed", exc.description, status=exc.code)
        else:
            err = ApiError(code)
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        err = ApiError("internal_error")
        return jsonify(err.to_dict()), err.status
