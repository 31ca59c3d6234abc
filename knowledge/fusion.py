"""Fusing dense and BM25 scores into one ranking (placeholder until tuned)."""

from __future__ import annotations

import numpy as np


def fuse(dense: np.ndarray, lexical: np.ndarray, ceiling: float) -> np.ndarray:
    """Fused score per candidate (higher is better)."""
    lex = lexical / ceiling if ceiling > 0 else np.zeros_like(lexical)
    return 0.7 * dense + 0.3 * lex
