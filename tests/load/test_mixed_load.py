"""A short stepped mixed load against `widget-api serve` in its own process."""

from __future__ import annotations

import pytest

from tests.faults.stack import Stack
from tests.load.mixed_load import step_up

pytestmark = pytest.mark.slow


def test_mixed_load_steps_answer_every_request_correctly(stack: Stack) -> None:
    stack.fake.clear_faults()
    port = stack.server.port
    result = step_up(
        port, stack.tool_session("ws_mixed_load"), rates=[10.0, 20.0], seconds=2.0, confirm=False
    )
    first = result["steps"][0]
    assert first["errors"] == 0
    assert all(first["by_kind"][kind] > 0 for kind in ("session", "tool", "page"))
    assert first["requests"] == 20
    assert result["highest_held_rps"] in (0.0, 10.0, 20.0)
