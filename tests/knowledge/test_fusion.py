"""Score fusion: BM25 only counts when its own ranking is evidence (pure arithmetic)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from knowledge.fusion import (
    COVERAGE_FLOOR,
    COVERAGE_WEIGHT,
    DECISIVE_FLOOR,
    DECISIVE_WEIGHT,
    decisiveness,
    fuse,
    lexical_weight,
)
from knowledge.lexical import LexicalIndex, coverage


@pytest.mark.parametrize(
    ("coverage_", "decisiveness_", "weight"),
    [
        (0.0, 0.0, 0.0),
        (COVERAGE_FLOOR, DECISIVE_FLOOR, 0.0),
        (1.0, 0.0, COVERAGE_WEIGHT),
        (0.0, 1.0, DECISIVE_WEIGHT),
        (1.0, 1.0, COVERAGE_WEIGHT + DECISIVE_WEIGHT),
    ],
)
def test_lexical_weight_ramps_from_its_floors(
    coverage_: float, decisiveness_: float, weight: float
) -> None:
    assert lexical_weight(coverage_, decisiveness_) == pytest.approx(weight)


def test_no_lexical_evidence_leaves_the_dense_scores() -> None:
    dense = np.array([0.5, 0.4])
    assert fuse(dense, np.array([]), 1.0) is dense
    assert fuse(dense, np.array([0.0, 0.0]), 1.0) is dense
    assert fuse(dense, np.array([0.1, 0.1]), 0.1) is dense  # near-tie, low coverage


def test_a_decisive_full_coverage_match_is_lifted_above_a_better_cosine() -> None:
    dense = np.array([0.40, 0.55])
    fused = fuse(dense, np.array([8.0, 0.5]), coverage=1.0)
    assert int(np.argmax(fused)) == 0
    assert fused[0] == pytest.approx(
        0.40 + COVERAGE_WEIGHT + DECISIVE_WEIGHT * (7.5 / 8 - 0.7) / 0.3
    )


@pytest.mark.parametrize(
    ("contributions", "ceilings", "expected"),
    [
        ([2.0, 0.0], [2.0, 2.0], 0.0),  # one shared word of two: what chance gives
        ([2.0, 2.0], [2.0, 2.0], 1.0),  # the whole query
        ([2.0, 1.0, 0.0], [2.0, 2.0, 4.0], 1.0 / 6.0),  # beyond the strongest term
        ([1.5], [2.0], 0.75),  # a one-term query: its own share
        ([0.0, 0.0], [0.0, 0.0], 0.0),
    ],
    ids=["one-of-two", "all", "beyond-strongest", "single-term", "empty"],
)
def test_coverage_counts_the_query_beyond_its_strongest_term(
    contributions: list[float], ceilings: list[float], expected: float
) -> None:
    got = coverage(np.array(contributions, np.float32), np.array(ceilings, np.float32))
    assert got == pytest.approx(expected)


def test_decisiveness_is_the_lead_of_the_best_over_the_second() -> None:
    assert decisiveness(np.array([1.0, 4.0, 3.0])) == pytest.approx(0.25)
    assert decisiveness(np.array([2.0])) == 1.0
    assert decisiveness(np.array([0.0, 0.0])) == 0.0


scores = arrays(np.float64, st.integers(2, 30), elements=st.floats(0.0, 1.0))


@given(scores, st.floats(0.0, 1.0), st.data())
def test_a_candidate_better_on_both_scores_is_never_fused_below(
    dense: np.ndarray, cover: float, data: st.DataObject
) -> None:
    lexical = data.draw(arrays(np.float64, len(dense), elements=st.floats(0.0, 20.0)))
    fused = fuse(dense, lexical, cover)
    for i in range(len(dense)):
        dominated = (dense <= dense[i]) & (lexical <= lexical[i])
        assert np.all(fused[dominated] <= fused[i] + 1e-12)


@given(scores, st.floats(0.0, 1.0), st.data())
def test_fusion_is_deterministic(dense: np.ndarray, cover: float, data: st.DataObject) -> None:
    lexical = data.draw(arrays(np.float64, len(dense), elements=st.floats(0.0, 20.0)))
    np.testing.assert_array_equal(fuse(dense, lexical, cover), fuse(dense, lexical, cover))


def test_term_contributions_add_up_to_the_bm25_score() -> None:
    texts = ["okta single sign on", "sign up for the phone app", "phone support hours", "okta"]
    index = LexicalIndex.build(
        "v1", [f"c{i}" for i in range(4)], texts, [{}] * 4, texts, np.zeros((4, 3), np.float32)
    )
    lexical, terms = index.scores("okta phone sign-on")
    assert lexical is not None and len(terms.ceilings) == 3
    for position in range(4):
        parts = index.contributions(terms, position)
        assert float(parts.sum()) == pytest.approx(float(lexical[position]), rel=1e-5)
    assert np.all(terms.ceilings >= index.contributions(terms, 0))
