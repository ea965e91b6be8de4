"""Batch-invariant inference: every forward pass sees blocks of one fixed size.

A CPU matrix product does not give a row the same bits whatever the other rows: BLAS
libraries pick a different kernel (and summation order) by the shape of the call, e.g. for
fewer than about a dozen rows, or for a one-column output.  A molecule's score would then
depend on how many other molecules were scored with it, so on chunk sizes, on
de-duplication and on the order of the input: in the 7th decimal, but enough that two runs
of one library do not write the same file.

Scoring therefore never runs a model on a batch of whatever size came: the rows (molecules,
peptides, embeddings) are cut into blocks of exactly ``size`` rows, the last block padded
by repeating its last row, and the padding's outputs are dropped.  Every call then has the
same number of graphs or rows, dense layers always take the same kernel, and a row's output
depends on the row alone (graph message passing only mixes atoms of one molecule).  On one
machine the scores are the same bits whatever the chunking; across machines (other CPUs,
other BLAS builds) they agree to float32 rounding, which the tests bound.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import torch

#: Rows per forward pass at inference (molecules per graph batch, embeddings per dense pass).
BLOCK_ROWS = 128


def fixed_blocks(n_rows: int, size: int = BLOCK_ROWS) -> Iterator[tuple[np.ndarray, int]]:
    """``(rows, n_real)`` for consecutive blocks covering ``range(n_rows)``: ``rows`` always
    has exactly ``size`` entries, the first ``n_real`` of them the block's own rows, the rest
    repeats of the last one."""
    if size < 1:
        raise ValueError("block size must be positive")
    for start in range(0, n_rows, size):
        stop = min(start + size, n_rows)
        rows = np.arange(start, stop, dtype=np.int64)
        if len(rows) < size:
            rows = np.concatenate([rows, np.full(size - len(rows), stop - 1, dtype=np.int64)])
        yield rows, stop - start


def map_fixed_blocks(function: Callable[[np.ndarray], torch.Tensor], n_rows: int,
                     size: int = BLOCK_ROWS) -> torch.Tensor:
    """``function(rows)`` for every fixed-size block of row positions, the padding's outputs
    dropped, concatenated along the first dimension (``n_rows`` rows in all)."""
    outputs = [function(rows)[:n_real] for rows, n_real in fixed_blocks(n_rows, size)]
    if not outputs:
        return torch.zeros(0)
    return torch.cat(outputs)


def rowwise_in_fixed_blocks(function: Callable[[torch.Tensor], torch.Tensor], rows: torch.Tensor,
                            size: int = BLOCK_ROWS) -> torch.Tensor:
    """A row-wise ``function`` (dense layers, heads) of ``rows``, applied ``size`` rows at a time."""
    if len(rows) == 0:
        return function(rows)
    return map_fixed_blocks(lambda block: function(rows[torch.from_numpy(block).to(rows.device)]), len(rows), size)
