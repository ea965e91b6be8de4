"""Whether a method's uncertainty can be acted on: calibration of its probabilities and the
ranking quality of its most confident predictions.

For a method that returns a predictive spread with its scores (the GP head of ``adkf``), each
query is split at the median spread: the more confident half and the rest.  A useful spread
ranks the confident half better (higher ΔAUPRC).  Probabilities (the sigmoid of the scores) are
also binned into ten equal-width bins for the expected calibration error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprior.metrics.classification import delta_auprc

#: Per-draw columns of a method that reports a spread, and the summary's names for them.
CALIBRATION_COLUMNS = ("ece", "delta_auprc_confident", "delta_auprc_uncertain")
ECE_BINS = 10


def expected_calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS) -> float:
    """ECE: the mean over equal-width probability bins, weighted by their share of molecules,
    of |fraction active - mean probability|."""
    labels = np.asarray(labels, dtype=np.float64)
    probabilities = np.asarray(probabilities, dtype=np.float64)
    which = np.minimum((probabilities * bins).astype(int), bins - 1)
    error = 0.0
    for b in np.unique(which):
        members = which == b
        error += members.mean() * abs(labels[members].mean() - probabilities[members].mean())
    return float(error)


def _delta_or_nan(labels: np.ndarray, scores: np.ndarray) -> float:
    return delta_auprc(labels, scores) if 0 < labels.sum() < len(labels) else float("nan")


def calibration_row(labels: np.ndarray, scores: np.ndarray, spread: np.ndarray) -> dict[str, float]:
    """The :data:`CALIBRATION_COLUMNS` of one query: ECE of ``sigmoid(scores)`` and the ΔAUPRC
    of the half with the smaller ``spread`` and of the other half (NaN for a one-class half)."""
    labels, scores, spread = (np.asarray(a, dtype=np.float64) for a in (labels, scores, spread))
    order = np.argsort(spread, kind="stable")
    confident, uncertain = order[: len(order) // 2], order[len(order) // 2:]
    return {"ece": expected_calibration_error(labels, 1.0 / (1.0 + np.exp(-scores))),
            "delta_auprc_confident": _delta_or_nan(labels[confident], scores[confident]),
            "delta_auprc_uncertain": _delta_or_nan(labels[uncertain], scores[uncertain])}


def calibration_summary(per_draw: pd.DataFrame) -> pd.DataFrame:
    """Per method and support size, for the methods that report a spread: the mean over assays
    of each assay's mean over draws of the :data:`CALIBRATION_COLUMNS`."""
    columns = ["method", "support_size", "n_tasks", *CALIBRATION_COLUMNS]
    if per_draw.empty or "ece" not in per_draw.columns:
        return pd.DataFrame(columns=columns)
    rows = per_draw.dropna(subset=["ece"])
    per_assay = rows.groupby(["method", "support_size", "assay"], sort=False)[list(CALIBRATION_COLUMNS)].mean()
    summary = per_assay.groupby(["method", "support_size"], sort=False).agg(
        n_tasks=("ece", "size"), **{c: (c, "mean") for c in CALIBRATION_COLUMNS}).reset_index()
    return summary[columns]
