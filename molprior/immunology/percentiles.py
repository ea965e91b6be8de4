"""Percentile calibration of MHC binding scores, as NetMHCpan and MHCflurry report it.

A score means little across alleles (each head has its own scale), so it is ranked among the
scores the same allele gives random natural-frequency peptides of the same length: the
percentile rank is the share of those predicted to bind at least as well (0-100, lower binds
better).  An allele keeps a table of score quantiles per length, ``QUANTILES`` of them (0.1%
steps).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

QUANTILES = 1001  # reference score quantiles per allele and length (0.1% steps)
#: Random reference peptides per length that the quantiles are taken on.
REFERENCE_PER_LENGTH = 5000


def quantile_table(scores_by_length: Sequence[np.ndarray]) -> np.ndarray:
    """One row of :data:`QUANTILES` score quantiles per length (the reference peptides' scores,
    shortest length first)."""
    levels = np.linspace(0.0, 1.0, QUANTILES)
    return np.stack([np.quantile(scores, levels) for scores in scores_by_length])


def percentile_ranks(table: np.ndarray, lengths: tuple[int, int], peptide_lengths: np.ndarray,
                     scores: np.ndarray) -> np.ndarray:
    """Percentile rank (0-100; lower binds better) of each score among the reference scores of
    its peptide's length (``table`` from :func:`quantile_table` for ``lengths``, low to high;
    lengths outside take the nearest)."""
    low = lengths[0]
    ranks = np.empty(len(scores))
    grid = np.linspace(0.0, 100.0, table.shape[1])
    for length in np.unique(peptide_lengths):
        rows = peptide_lengths == length
        quantiles = table[int(np.clip(length, *lengths)) - low]
        ranks[rows] = 100.0 - np.interp(scores[rows], quantiles, grid)
    return ranks
