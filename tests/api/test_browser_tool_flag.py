"""`browser_tool_calls`: the company flag that keeps `POST /api/chat/<id>/tool` for old embeds.

Current embeds report their WebRTC call and the server runs its tools over the sideband; old
embeds cached on visitors' browsers still post tool calls themselves until the flag is off.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest
from flask import Flask

from widget_api.companies import CompanyRegistry
from widget_api.services import Services


@pytest.mark.parametrize(("flag", "status"), [(True, 200), (False, 403)])
def test_the_browser_tool_endpoint_follows_the_company_flag(
    base_services: Services,
    make_app: Callable[..., Flask],
    tool_token: Callable[..., str],
    flag: bool,
    status: int,
) -> None:
    acme = base_services.companies.get("acme").model_copy(update={"browser_tool_calls": flag})
    services = dataclasses.replace(base_services, companies=CompanyRegistry([acme]))
    client = make_app(services=services).test_client()
    response = client.post(
        "/api/chat/acme/tool",
        headers={"Authorization": f"Bearer {tool_token()}"},
        json={"name": "get_demo_clip", "arguments": json.dumps({"topic": "the AI agent"}),
              "call_id": f"call_flag_{flag}", "session_id": "ws_test"},
    )  # fmt: skip
    assert response.status_code == status
    if not flag:
        assert response.get_json()["error"]["code"] == "browser_tools_disabled"
    else:
        assert "output" in response.get_json()
