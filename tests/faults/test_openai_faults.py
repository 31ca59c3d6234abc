"""OpenAI failing in six ways, seen through a real `widget-api serve` process."""

from __future__ import annotations

import json
import time

import pytest
from websockets.sync.client import connect

from tests.faults import openai_faults, procfs
from tests.faults.openai_faults import FAULTS, FaultCase
from tests.faults.stack import Stack

pytestmark = pytest.mark.slow  # a widget-api serve process

# The default run; `scripts/reliability_report.py` runs 500.
FAULTED_SESSIONS = 60
CASES = [pytest.param(case, id=case.name) for case in FAULTS]


@pytest.mark.parametrize("case", CASES)
def test_session_route_answers_a_json_error_within_the_timeout(
    clean_fake: Stack, case: FaultCase
) -> None:
    case.apply(clean_fake.fake, clean_fake.timeout)
    trial = openai_faults.session_route_trial(clean_fake.server.base_url, case, clean_fake.timeout)
    assert trial.survived, trial.detail


@pytest.mark.parametrize("case", CASES)
def test_relay_falls_back_or_tells_the_page_within_the_timeout(
    clean_fake: Stack, case: FaultCase
) -> None:
    case.apply(clean_fake.fake, clean_fake.timeout)
    trial = openai_faults.relay_trial(clean_fake.server.base_url, case, clean_fake.timeout)
    assert trial.survived, trial.detail


def test_the_session_route_works_again_once_openai_recovers(clean_fake: Stack) -> None:
    case = openai_faults.FAULTS_BY_NAME["connection_refused"]
    case.apply(clean_fake.fake, clean_fake.timeout)
    clean_fake.fake.clear_faults()
    trial = openai_faults.session_route_trial(clean_fake.server.base_url, case, clean_fake.timeout)
    assert trial.detail.startswith("200"), trial.detail


def test_faulted_sessions_leave_no_threads_sockets_or_upstream_connections(
    clean_fake: Stack,
) -> None:
    result = openai_faults.run_faulted_sessions(
        clean_fake.server.base_url,
        clean_fake.server.worker_pid(),
        clean_fake.fake,
        sessions=FAULTED_SESSIONS,
        timeout=clean_fake.timeout,
        thread_budget=clean_fake.server.thread_budget,
    )
    assert result["failures"] == []
    assert result["faulted_sessions"] >= FAULTED_SESSIONS - len(FAULTS)
    assert result["leak_free"], result
    assert result["growth"]["upstream_close_wait"] == 0


def test_the_leak_probe_sees_a_live_relay_upstream_connection(clean_fake: Stack) -> None:
    """The /proc probe is what the leak check trusts: it must see a connection that exists."""
    server = clean_fake.server
    pid = server.worker_pid()
    url = server.base_url.replace("http://", "ws://") + "/ws/realtime/acme"
    with connect(url, origin=server.base_url, open_timeout=10) as ws:  # type: ignore[call-overload]
        while json.loads(ws.recv(timeout=10))["type"] != "session.updated":
            pass
        live = procfs.holdings(pid, clean_fake.fake.port)
    assert live.upstream.get("ESTABLISHED", 0) >= 1
    deadline = time.monotonic() + 10
    while procfs.holdings(pid, clean_fake.fake.port).upstream.get("ESTABLISHED", 0):
        assert time.monotonic() < deadline, "the relay kept its upstream connection"
        time.sleep(0.1)
