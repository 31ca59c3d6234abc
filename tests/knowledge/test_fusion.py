"""Score fusion: BM25 only counts when its own ranking is evidence (pure arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge.fusion import COVERAGE_WEIGHT, DECISIVE_WEIGHT, fuse, lexical_weight


@pytest.mark.parametrize(
    ("coverage", "decisiveness", "weight"),
    [
        (0.0, 0.0, 0.0),
        (0.25, 0.7, 0.0),
        (1.0, 0.0, COVERAGE_WEIGHT),
        (0.0, 1.0, DECISIVE_WEIGHT),
        (1.0, 1.0, COVERAGE_WEIGHT + DECISIVE_WEIGHT),
    ],
)
def test_lexical_weight_ramps_from_its_floors(
    coverage: float, decisiveness: float, weight: float
) -> None:
    assert lexical_weight(coverage, decisiveness) == pytest.approx(weight)


def test_no_lexical_evidence_leaves_the_dense_scores() -> None:
    dense = np.array([0.5, 0.4])
    assert fuse(dense, np.array([]), 1.0) is dense
    assert fuse(dense, np.array([0.0, 0.0]), 1.0) is dense
    assert fuse(dense, np.array([1.0, 1.0]), 0.0) is dense
    assert fuse(dense, np.array([0.1, 0.1]), 10.0) is dense  # near-tie, low coverage


def test_a_decisive_full_coverage_match_is_lifted_above_a_better_cosine() -> None:
    dense = np.array([0.40, 0.55])
    fused = fuse(dense, np.array([8.0, 0.5]), ceiling=8.0)
    assert int(np.argmax(fused)) == 0
    assert fused[0] == pytest.approx(
        0.40 + COVERAGE_WEIGHT + DECISIVE_WEIGHT * (7.5 / 8 - 0.7) / 0.3
    )
