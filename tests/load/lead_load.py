"""1,000 concurrent `log_lead` calls, 20 % of them retrying an earlier call id.

The load itself is `scripts/bench_api.py`'s (one implementation for the benchmark, the tests
and the reliability report); this adds the verdicts: none lost, none doubled.
"""

from __future__ import annotations

from typing import Any

from scripts.bench_api import bench_log_lead_retries


def run_lead_load(
    base_url: str, database_url: str, sessions: list[dict[str, str]], *, total: int = 1000,
    retry_share: float = 0.2, concurrency: int = 64,
) -> dict[str, Any]:  # fmt: skip
    port = int(base_url.rsplit(":", 1)[1])
    result = bench_log_lead_retries(port, sessions, database_url, total, retry_share, concurrency)
    unique = result["unique_calls"]
    return {
        **result,
        "leads_expected": unique,
        "leads_stored": result["leads_in_db"],
        "none_lost": result["leads_in_db"] >= unique and result["failed_requests"] == 0,
        "none_doubled": result["leads_in_db"] <= unique and result["tool_calls_in_db"] <= unique,
    }
