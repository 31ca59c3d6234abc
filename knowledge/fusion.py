"""Fusing dense and BM25 scores into one ranking, weighted per query by BM25's evidence.

Plain reciprocal-rank fusion treats both rankings as equally trustworthy for every query. That
wins on technical text where exact terms matter (SciFact: RRF 0.725 vs BM25 0.686 / dense 0.673
nDCG@10 here) but collapses where visitors paraphrase and BM25's best matches are accidents of
shared words (our hand-written FAQ set: dense 0.877, BM25 0.29, RRF 0.49).

So BM25 gets a weight per query from two pieces of evidence about its own ranking:

* coverage: how much of the query its best match explains - the best BM25 score divided by the
  query's ceiling (the sum of each query term's highest score anywhere in the corpus; a term
  the corpus never uses counts as its rarest term). Below `COVERAGE_FLOOR` it adds nothing; it
  rises linearly to `COVERAGE_WEIGHT` when one chunk contains the whole query.
* decisiveness: how far its best match stands above its second, (best - second) / best. A rare
  exact term (an error code, a SKU) that only one chunk contains makes BM25 decisive even when
  the rest of the query is paraphrase; near-ties between accidental matches do not. Above
  `DECISIVE_FLOOR` it adds up to `DECISIVE_WEIGHT`.

BM25 scores are scaled to the query's best match, so the weight is in cosine units and the
fused score is `cosine + weight * bm25 / best_bm25`. Tuned on SciFact *train* queries and the
FAQ sets (never on SciFact test); nDCG@10 through `KnowledgeBase.search` (document level,
`scripts/bench_knowledge.py`; RRF from the same candidate lists offline):

    SciFact test   dense 0.673  BM25 0.693  RRF 0.725  this 0.721
    FAQ            dense 0.877  BM25 0.238  RRF 0.493  this 0.861
    FAQ answers    dense 0.761  BM25 0.232  RRF 0.468  this 0.777
    error codes    dense 0.915  BM25 1.000             this 1.000

On the FAQ set it still trails dense alone by 0.016 (a few near-tied queries flip): where
BM25 is almost useless, nothing in a single query says so with certainty.
"""

from __future__ import annotations

import numpy as np

COVERAGE_FLOOR = 0.25
COVERAGE_WEIGHT = 0.5
DECISIVE_FLOOR = 0.7
DECISIVE_WEIGHT = 0.3


def _ramp(value: float, floor: float) -> float:
    return min(max((value - floor) / (1.0 - floor), 0.0), 1.0)


def lexical_weight(coverage: float, decisiveness: float) -> float:
    """BM25's weight (in cosine units) for one query."""
    return COVERAGE_WEIGHT * _ramp(coverage, COVERAGE_FLOOR) + DECISIVE_WEIGHT * _ramp(
        decisiveness, DECISIVE_FLOOR
    )


def fuse(dense: np.ndarray, lexical: np.ndarray, ceiling: float) -> np.ndarray:
    """Fused score per candidate.

    `dense` holds cosine similarities and `lexical` BM25 scores of the same candidates (which
    include BM25's own top matches); `ceiling` is the query's maximal BM25 score.
    """
    if len(lexical) == 0 or ceiling <= 0.0:
        return dense
    top_two = np.partition(lexical, -2)[-2:] if len(lexical) > 1 else np.array([0.0, lexical[0]])
    second, best = float(min(top_two)), float(max(top_two))
    if best <= 0.0:
        return dense
    weight = lexical_weight(best / ceiling, (best - second) / best)
    if weight == 0.0:
        return dense
    return dense + weight * (lexical / best)
