"""PlaybackTracker: where the visitor is in the assistant's audio, on a fake clock."""

from __future__ import annotations

from widget_api.relay.playback import PlaybackTracker


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_nothing_sent_means_nothing_to_truncate() -> None:
    assert PlaybackTracker(Clock()).heard_position() is None


def test_without_reports_the_position_follows_the_clock_from_the_first_delta() -> None:
    clock = Clock()
    tracker = PlaybackTracker(clock)
    tracker.on_audio_sent("item_1", 1000)
    clock.now += 0.4
    assert tracker.heard_position() == ("item_1", 400)


def test_without_reports_audio_played_out_by_the_clock_is_not_cut() -> None:
    clock = Clock()
    tracker = PlaybackTracker(clock)
    tracker.on_audio_sent("item_1", 500)
    clock.now += 0.6
    assert tracker.heard_position() is None


def test_a_report_moves_the_position_and_the_clock_advances_it() -> None:
    clock = Clock()
    tracker = PlaybackTracker(clock)
    tracker.on_audio_sent("item_1", 3000)
    clock.now += 2.0  # generated faster than played: the report is what counts
    tracker.on_report("item_1", 250)
    clock.now += 0.125
    assert tracker.heard_position() == ("item_1", 375)


def test_the_position_never_exceeds_the_audio_sent() -> None:
    clock = Clock()
    tracker = PlaybackTracker(clock)
    tracker.on_audio_sent("item_1", 300)
    tracker.on_report("item_1", 200)
    clock.now += 5
    assert tracker.heard_position() == ("item_1", 300)


def test_drained_playback_and_other_items_reports() -> None:
    tracker = PlaybackTracker(Clock())
    tracker.on_audio_sent("item_1", 300)
    tracker.on_report("other", 100)  # a stale item's report is ignored
    assert tracker.heard_position() == ("item_1", 0)
    tracker.on_report("item_1", 300, drained=True)
    assert tracker.heard_position() is None
    tracker.on_audio_sent("item_1", 100)  # more audio: playing again
    assert tracker.heard_position() is not None
    tracker.reset()
    assert tracker.heard_position() is None
