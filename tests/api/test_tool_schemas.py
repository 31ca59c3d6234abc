"""Tool declarations: clean GA function schemas, generated from the validating models."""

from __future__ import annotations

import json

import pytest

from widget_api.companies import CompanyRegistry
from widget_api.services import Services
from widget_api.settings import BUNDLED_COMPANIES_DIR


def _walk(node):  # type: ignore[no-untyped-def]
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


@pytest.fixture(scope="module")
def declarations(base_services: Services) -> dict[str, dict]:
    acme = CompanyRegistry.load(BUNDLED_COMPANIES_DIR, env={}).get("acme")
    return {d["name"]: d for d in base_services.tools.declarations(acme)}


def test_four_tools_in_ga_function_shape(declarations: dict[str, dict]) -> None:
    assert set(declarations) == {
        "search_knowledge", "get_demo_clip", "create_meeting_link", "log_lead",
    }  # fmt: skip
    for decl in declarations.values():
        assert set(decl) == {"type", "name", "description", "parameters"}
        assert decl["type"] == "function"
        params = decl["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        text = json.dumps(params)
        assert "$defs" not in text and '"title"' not in text and "anyOf" not in text
        for prop in params["properties"].values():
            assert prop.get("description"), "every field tells the model what it is"
            assert "type" in prop


def test_bounds_and_company_specific_parts(declarations: dict[str, dict]) -> None:
    search = declarations["search_knowledge"]["parameters"]
    assert search["required"] == ["query"]
    assert (search["properties"]["top_k"]["minimum"], search["properties"]["top_k"]["maximum"]) == (
        1,
        8,
    )
    meeting = declarations["create_meeting_link"]["parameters"]
    assert meeting["required"] == []
    assert meeting["properties"]["duration_minutes"]["enum"] == [15, 30, 45]
    lead = declarations["log_lead"]["parameters"]
    assert lead["required"] == ["name", "email", "interest"]
    assert lead["properties"]["email"]["maxLength"] == 320
    for node in _walk(lead["properties"]):
        if node.get("type") == "string":
            assert "maxLength" in node
