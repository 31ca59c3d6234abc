"""/healthz and /readyz."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from flask import Flask

from knowledge import KnowledgeBase, KnowledgeConfig
from widget_api.crm.db import Database
from widget_api.services import Services


def test_healthz(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/healthz").json == {"status": "ok"}


def test_readyz_ok_when_database_and_chroma_answer(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "knowledge": "ok"}


def test_readyz_names_the_failing_parts(
    make_app: Callable[..., Flask], base_services: Services, tmp_path: Path
) -> None:
    broken = dataclasses.replace(
        base_services,
        db=Database("postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"),
        knowledge=KnowledgeBase(
            KnowledgeConfig(chroma_path=tmp_path / "c", chroma_host="127.0.0.1", chroma_port=9),
            base_services.embedder,
        ),
    )
    response = make_app(broken).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["checks"] == {"database": "unavailable", "knowledge": "unavailable"}
