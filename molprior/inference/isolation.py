"""Scoring that keeps one output row per input row whatever breaks: a failure of the whole
batch is narrowed down, by halves, to the inputs it comes from.

Every scorer molprior packages (few-shot heads on molecules, the MHC predictor on peptide and
allele rows) scores a batch at once; should it raise for the batch instead of giving the guilty
inputs a per-row error, :func:`score_isolating_failures` scores each half again, down to single
inputs, so that only the inputs it fails on get an error and the others their scores.
"""

from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import pandas as pd

Batch = TypeVar("Batch", Sequence, pd.DataFrame)


def error_reason(error: BaseException) -> str:
    """An exception as a row's one-line reason: its message's first two lines (RDKit's say what
    and where), at most 300 characters; the exception's type when it has no message."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    return ": ".join(lines[:2])[:300] or type(error).__name__


def _part(batch: Batch, start: int, stop: int | None = None) -> Batch:
    return batch.iloc[start:stop] if isinstance(batch, pd.DataFrame) else batch[start:stop]


def score_isolating_failures(score: Callable[[Batch], pd.DataFrame], batch: Batch,
                             failed: Callable[[Batch, str], pd.DataFrame]) -> pd.DataFrame:
    """``score(batch)``: a frame with one row per input, in order.  Should it raise, or give
    another number of rows, each half is scored again, down to single inputs; ``failed(single,
    reason)`` gives the row of an input that fails alone (``reason`` from :func:`error_reason`)."""
    try:
        out = score(batch)
        if len(out) != len(batch):
            raise RuntimeError(f"scoring gave {len(out)} rows for {len(batch)}")
        return out.reset_index(drop=True)
    except Exception as error:  # noqa: BLE001 - a failure of the whole batch: find the inputs it comes from
        if len(batch) == 0:
            raise
        if len(batch) > 1:
            middle = len(batch) // 2
            return pd.concat([score_isolating_failures(score, _part(batch, 0, middle), failed),
                              score_isolating_failures(score, _part(batch, middle), failed)], ignore_index=True)
        reason = error_reason(error)
    return failed(batch, reason).reset_index(drop=True)
