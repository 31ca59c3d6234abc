"""Each domain concept is declared once (widget_api/vocabulary.py); every use derives from it."""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

from sqlalchemy import CheckConstraint

from widget_api import protocol
from widget_api.companies.models import CompanyConfig
from widget_api.crm.cli import build_parser
from widget_api.crm.models import Lead
from widget_api.routes.admin import LeadQuery, StatusChange
from widget_api.tools.registry import TOOL_MODULES
from widget_api.vocabulary import (
    CHANNELS,
    COMPANY_ID_PATTERN,
    LEAD_STATUSES,
    TOOL_NAMES,
    TRANSPORTS,
)


def _enum(schema: dict[str, Any], field: str) -> list[str]:
    prop = schema["properties"][field]
    for option in prop.get("anyOf", [prop]):
        if "enum" in option:
            return list(option["enum"])
        if "$ref" in option:
            name = option["$ref"].rsplit("/", 1)[-1]
            return list(schema["$defs"][name]["enum"])
    raise AssertionError(f"{field} has no enum")


def _cli_choices(command: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[union-attr]
    return list(next(a for a in sub._actions if a.dest == "status").choices)


def test_lead_statuses_reach_the_orm_the_admin_api_the_cli_and_the_widget() -> None:
    [check] = [
        c for c in Lead.__table__.constraints
        if isinstance(c, CheckConstraint) and str(c.name).endswith("status")
    ]  # fmt: skip
    assert all(f"'{status}'" in str(check.sqltext) for status in LEAD_STATUSES)
    assert _enum(StatusChange.model_json_schema(), "status") == list(LEAD_STATUSES)
    assert _enum(LeadQuery.model_json_schema(), "status") == list(LEAD_STATUSES)
    assert _cli_choices("set-status") == list(LEAD_STATUSES)
    assert protocol.constants()["leadStatuses"] == list(LEAD_STATUSES)


def test_transports_reach_company_configs_and_the_widget() -> None:
    assert _enum(CompanyConfig.model_json_schema(), "transport") == list(TRANSPORTS)
    assert protocol.constants()["transports"] == list(TRANSPORTS)
    assert protocol.constants()["channels"] == list(CHANNELS)


def test_tool_names_are_the_registered_tools() -> None:
    assert tuple(m.NAME for m in TOOL_MODULES) == TOOL_NAMES
    assert protocol.constants()["tools"] == list(TOOL_NAMES)


def _embed_js() -> str:
    return resources.files("embed_widget").joinpath("embed.js").read_text(encoding="utf-8")


def test_the_loader_checks_company_ids_and_transports_as_declared() -> None:
    # embed.js runs alone on the customer's page (no protocol.js there): its two literals are
    # held to the vocabulary here instead.
    source = _embed_js()
    company_id = re.search(r"if \(!/(\^\[a-z0-9\][^/]*\$)/\.test\(company\)\)", source)
    transports = re.search(r"/\^\(([a-z|]+)\)\$/\.test\(transport", source)
    assert company_id is not None and company_id.group(1) == COMPANY_ID_PATTERN
    assert transports is not None and tuple(transports.group(1).split("|")) == TRANSPORTS
