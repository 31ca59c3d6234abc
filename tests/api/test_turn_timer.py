"""TurnTimer: one row per answered turn, for voice turns and typed lines alike."""

from __future__ import annotations

import pytest

from tests.relay.fakes import Clock
from widget_api.realtime.turn_timer import TurnTimer


def test_a_typed_line_times_the_answer_text_only() -> None:
    clock, stored = Clock(), []
    timer = TurnTimer(lambda audio, text: stored.append((audio, text)), clock)
    timer.typed_line()
    clock.now += 0.25
    assert timer.first_audio() is None  # a typed turn's audio is not timed from the keyboard
    assert timer.first_text("resp_1") == pytest.approx(250.0)
    timer.response_done("resp_1")
    assert stored == [(None, pytest.approx(250.0))]


def test_a_voice_turn_stores_both_figures_once() -> None:
    clock, stored = Clock(), []
    timer = TurnTimer(lambda audio, text: stored.append((audio, text)), clock)
    timer.speech_stopped()
    clock.now += 0.3
    assert timer.first_audio() == pytest.approx(300.0)
    clock.now += 0.1
    assert timer.first_text("resp_1") == pytest.approx(400.0)
    assert timer.first_text("resp_1") is None  # only the first delta counts
    timer.response_done("resp_1")
    timer.response_done("resp_1")
    assert stored == [(pytest.approx(300.0), pytest.approx(400.0))]
