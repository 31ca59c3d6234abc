"""The Flask application factory."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Flask, jsonify
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from widget_api.errors import ApiError, DomainError
from widget_api.services import EXTENSION_KEY, Services, build_services
from widget_api.settings import Settings

if TYPE_CHECKING:
    from knowledge.embedding import Embedder

log = logging.getLogger(__name__)

# Werkzeug's HTTP errors mapped onto catalogue codes, so even routing failures answer in JSON.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def create_app(
    settings: Settings | None = None,
    *,
    embedder: Embedder | None = None,
    services: Services | None = None,
    **overrides: Any,
) -> Flask:
    """Build the app from one Settings object (from the environment when not given).

    `embedder` lets tests and scripts share one loaded model; `services` replaces the whole
    wiring (then `settings` is taken from it).
    """
    if services is not None:
        settings = services.settings
    settings = settings or Settings(**overrides)
    app = Flask(__name__)
    if settings.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Addresses (per-address limits) and https (secure cookies) from our own proxies only;
        # never the Host: the server's origin is configured (WIDGET_PUBLIC_ORIGIN).
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.extensions["settings"] = settings
    app.extensions[EXTENSION_KEY] = services or build_services(settings, embedder=embedder)
    _register_error_handlers(app)

    register_routes(app)
    return app


def register_routes(app: Flask) -> None:
    """Every blueprint (the OpenAPI document reads the routes from an app built with this)."""
    from widget_api.routes import health, session, tool

    app.register_blueprint(health.bp)
    app.register_blueprint(session.bp)
    app.register_blueprint(tool.bp)
    # Other parts register their blueprints below (one line each).
    from widget_api.routes import widget

    app.register_blueprint(widget.bp)
    from widget_api.routes import admin

    app.register_blueprint(admin.bp)
    from widget_api.routes import calls, phone

    app.register_blueprint(calls.bp)
    app.register_blueprint(phone.bp)
    from widget_api.routes import admin_record

    app.register_blueprint(admin_record.bp)
    from widget_api.routes import public_config

    app.register_blueprint(public_config.bp)
    from widget_api.routes import reports

    app.register_blueprint(reports.bp)
    from widget_api import openapi

    app.register_blueprint(openapi.bp)


def _register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)  # ApiError included: it is a DomainError
    def _api_error(err: DomainError):  # type: ignore[no-untyped-def]
        response = jsonify(err.to_dict())
        retry_after = next(
            (d["retry_after"] for d in err.details if isinstance(d, dict) and "retry_after" in d),
            None,
        )
        if retry_after is not None:
            response.headers["Retry-After"] = str(retry_after)
        return response, err.status

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

    @app.errorhandler(SQLAlchemyError)
    def _database(exc: SQLAlchemyError):  # type: ignore[no-untyped-def]
        # Connection-level failures are an outage, not a bug; anything else is a bug.
        if isinstance(exc, OperationalError | InterfaceError):
            log.warning("database unavailable: %s", type(exc).__name__)
            err = ApiError("database_unavailable")
        else:
            log.exception("database error")
            err = ApiError("internal_error")
        return jsonify(err.to_dict()), err.status

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        log.exception("unhandled error")
        err = ApiError("internal_error")
        return jsonify(err.to_dict()), err.status
