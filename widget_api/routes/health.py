"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from typing import Literal

from flask import Blueprint, current_app
from pydantic import BaseModel

from widget_api.routes.documented import Answer, documented
from widget_api.services import get_services

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)
Check = Literal["ok", "unavailable"]


class HealthAnswer(BaseModel):
    status: Literal["ok"]


class ReadyAnswer(BaseModel):
    status: Check
    checks: dict[str, Check]


@bp.get("/healthz")
@documented("Liveness probe.", ok=HealthAnswer)
def healthz() -> HealthAnswer:
    """The process is up."""
    return HealthAnswer(status="ok")


@bp.get("/readyz")
@documented(
    "Readiness: database and knowledge base answer.",
    ok={
        200: Answer("application/json", ReadyAnswer),
        503: Answer("application/json", ReadyAnswer, "A part is unavailable."),
    },
)
def readyz() -> tuple[ReadyAnswer, int]:
    """The database and the knowledge base answer; 503 naming the part that does not."""
    services = get_services(current_app)
    checks: dict[str, Check] = {}
    for part, ping in (("database", services.db.ping), ("knowledge", services.knowledge.ping)):
        try:
            ping()
            checks[part] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason goes to the log
            log.warning("readiness: %s unavailable (%s)", part, type(exc).__name__)
            checks[part] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return ReadyAnswer(status="ok" if ready else "unavailable", checks=checks), (
        200 if ready else 503
    )
