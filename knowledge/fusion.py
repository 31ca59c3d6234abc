"""Fusing dense and BM25 scores into one ranking, weighted per query by BM25's evidence.

Plain reciprocal-rank fusion treats both rankings as equally trustworthy for every query. That
wins on technical text where exact terms matter (SciFact: RRF 0.725 vs BM25 0.686 / dense 0.673
nDCG@10 here) but collapses where visitors paraphrase and BM25's best matches are accidents of
shared words (our hand-written FAQ set: dense 0.877, BM25 0.24, RRF 0.49).

So BM25 gets a weight per query from two pieces of evidence about its own ranking:

* coverage: how much of the query its best match explains beyond the query's strongest term
  (`knowledge.lexical.coverage`: scores relative to each term's best score in the corpus). One
  shared word is what chance gives a short question ("can I use it on my phone" against a help
  center that says "phone" everywhere), so it counts for nothing; a match of the rest of the
  query is evidence. Below `COVERAGE_FLOOR` it adds nothing; it rises linearly to
  `COVERAGE_WEIGHT` when one chunk contains the whole query.
* decisiveness: how far its best match stands above its second, (best - second) / best. A rare
  exact term (an error code, a SKU) that only one chunk contains makes BM25 decisive even when
  the rest of the query is paraphrase; near-ties between accidental matches do not. Above
  `DECISIVE_FLOOR` it adds up to `DECISIVE_WEIGHT`.

BM25 scores are scaled to the query's best match, so the weight is in cosine units and the
fused score is `cosine + weight * bm25 / best_bm25`: a candidate at least as good as another on
both scores is never fused below it. Floors and weights were chosen on SciFact *train* queries
and the FAQ sets, never on SciFact test. nDCG@10 through `KnowledgeBase.search` (document
level, `scripts/bench_knowledge.py`):

    SciFact test   dense 0.671  BM25 0.692  this 0.723  (coverage of the whole query: 0.720)
    SciFact train  dense 0.688  BM25 0.695  this 0.725  (0.723)
    FAQ            dense 0.877  BM25 0.239  this 0.866  (0.861)
    FAQ answers    dense 0.761  BM25 0.241  this 0.781  (0.777)
    error codes    dense 0.918  BM25 1.000  this 1.000  (1.000)

On the FAQ set it still trails dense alone by 0.011 (three near-tied queries flip): where BM25
is almost useless, nothing in a single query says so with certainty. (Figures above: fp32
vectors, torch's exactly; the default int8 passages move them by at most 0.005, see README.)
Also tried and dropped, with SciFact test held out: gating by embedding-space agreement of the
two retrievers' best matches, by a query embedding without BM25's matched words, sharper IDF
weights in coverage, other BM25 normalisations, and question words dropped from BM25's query;
none kept FAQ >= dense with SciFact train >= 0.72 (README, Knowledge benchmark).
"""

from __future__ import annotations

import numpy as np

COVERAGE_FLOOR = 0.15
COVERAGE_WEIGHT = 0.9
DECISIVE_FLOOR = 0.7
DECISIVE_WEIGHT = 0.3


def _ramp(value: float, floor: float) -> float:
    return min(max((value - floor) / (1.0 - floor), 0.0), 1.0)


def lexical_weight(coverage: float, decisiveness: float) -> float:
    """BM25's weight (in cosine units) for one query."""
    return COVERAGE_WEIGHT * _ramp(coverage, COVERAGE_FLOOR) + DECISIVE_WEIGHT * _ramp(
        decisiveness, DECISIVE_FLOOR
    )


def decisiveness(lexical: np.ndarray) -> float:
    """How far BM25's best candidate stands above its second, as a share of the best."""
    if len(lexical) == 0:
        return 0.0
    top_two = np.partition(lexical, -2)[-2:] if len(lexical) > 1 else np.array([0.0, lexical[0]])
    second, best = float(min(top_two)), float(max(top_two))
    return (best - second) / best if best > 0.0 else 0.0


def fuse(dense: np.ndarray, lexical: np.ndarray, coverage: float) -> np.ndarray:
    """Fused score per candidate.

    `dense` holds cosine similarities and `lexical` BM25 scores of the same candidates (which
    include BM25's own top matches); `coverage` is how much of the query BM25's best match
    explains (`knowledge.lexical.coverage`).
    """
    best = float(lexical.max()) if len(lexical) else 0.0
    if best <= 0.0:
        return dense
    weight = lexical_weight(coverage, decisiveness(lexical))
    if weight == 0.0:
        return dense
    return dense + weight * (lexical / best)
