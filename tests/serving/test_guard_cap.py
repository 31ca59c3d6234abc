"""The per-address connection cap, shared out over the workers (each admits its share)."""

from __future__ import annotations

import pytest

from widget_api.serving.guard import per_worker_cap


@pytest.mark.parametrize(
    ("cap", "workers", "share"),
    [(64, 1, 64), (64, 2, 32), (64, 3, 21), (3, 4, 1), (0, 4, 0), (10, 0, 10)],
)
def test_each_worker_admits_its_share_and_never_more_than_the_cap(
    cap: int, workers: int, share: int
) -> None:
    assert per_worker_cap(cap, workers) == share
    assert share * max(workers, 1) <= cap or share == 1
