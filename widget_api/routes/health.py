"""Liveness and readiness probes."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify

from widget_api.services import get_services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """The process is up."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """The database and the knowledge base answer; 503 naming the part that does not."""
    services = get_services(current_app)
    checks: dict[str, str] = {}
    for part, ping in (("database", services.db.ping), ("knowledge", services.knowledge.ping)):
        try:
            ping()
            checks[part] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("readiness: %s unavailable (%s)", part, type(exc).__name__)
            checks[part] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return jsonify({"status": "ok" if ready else "unavailable", "checks": checks}), (
        200 if ready else 503
    )
