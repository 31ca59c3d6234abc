"""Schemathesis over the OpenAPI document against a running server, SQLite and PostgreSQL.

FUZZ_CASES (or --fuzz-cases) is the total over both databases: ~300 by default, 1,200 in the
reliability report. Zero 5xx, zero answers outside the document, catalogue codes only.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import requests

from tests.fuzz.api_fuzz import run_api_fuzz
from tests.fuzz.conftest import fuzz_auth
from widget_api.openapi import build_openapi
from widget_api.services import Services


def test_fuzzing_finds_no_server_errors_or_undocumented_answers(
    running_server: tuple[str, Services, str], fuzz_cases: int
) -> None:
    url, services, database = running_server
    budget = max(fuzz_cases // 2, 40)
    result = run_api_fuzz(url, budget, auth=fuzz_auth(services, url))
    figures = {k: result[k] for k in ("cases", "failures", "operations", "statuses")}
    print(json.dumps({"database": database, **figures}))  # visible with -s; the report quotes it
    summary = json.dumps(result["failing_examples"], indent=1)[:6000]
    assert result["failures"] == 0, f"{database}: {summary}"
    assert result["cases"] >= budget * 0.9
    assert not any(status.startswith("5") for status in result["statuses"])
    # The credentials got cases past authentication into the tools and the CRM.
    ok = {op: answers.get("200", 0) for op, answers in result["by_operation"].items()}
    assert ok["POST /api/chat/{company_id}/tool"] > 0
    assert sum(n for op, n in ok.items() if op.startswith(("GET /api/admin", "PATCH"))) > 0


def _drifted(doc: dict[str, Any]) -> dict[str, Any]:
    broken = copy.deepcopy(doc)
    health = broken["components"]["schemas"]["HealthAnswer"]
    health["properties"]["uptime"] = {"type": "number"}
    health["required"] = [*health["required"], "uptime"]
    tool = broken["paths"]["/api/chat/{company_id}/tool"]["post"]["responses"]
    tool["404"]["x-error-codes"] = ["not_found"]  # unknown_company no longer documented
    return broken


def test_the_checks_catch_a_document_that_drifted_from_the_server(
    running_server: tuple[str, Services, str],
) -> None:
    url, services, database = running_server
    if database != "sqlite":
        return  # one database is enough to show the checks bite
    only = {"GET /healthz", "POST /api/chat/{company_id}/tool"}
    result = run_api_fuzz(url, 40, document=_drifted(build_openapi()), only=only)
    failing = {e["operation"] for e in result["failing_examples"]}
    assert "GET /healthz" in failing
    assert "POST /api/chat/{company_id}/tool" in failing


def test_lead_ids_beyond_the_column_range_are_not_found_not_500(
    running_server: tuple[str, Services, str],
) -> None:
    """Regression: a huge id in the URL reached the driver (OverflowError, DataError → 500)."""
    url, _services, _database = running_server
    from tests.fuzz.stack import ADMIN_TOKEN

    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for lead_id in (2**31, 2**63, 10**30):
        got = requests.get(f"{url}/api/admin/acme/leads/{lead_id}", headers=headers, timeout=10)
        assert (got.status_code, got.json()["error"]["code"]) == (404, "lead_not_found")
        changed = requests.patch(f"{url}/api/admin/acme/leads/{lead_id}", json={"status": "new"},
                                 headers=headers, timeout=10)  # fmt: skip
        assert (changed.status_code, changed.json()["error"]["code"]) == (404, "lead_not_found")
