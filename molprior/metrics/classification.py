"""Classification metrics of the few-shot protocols."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def average_precision(labels: np.ndarray, scores: np.ndarray) -> float:
    """Average precision (scikit-learn's, as FS-Mol reports it)."""
    return float(average_precision_score(np.asarray(labels), scores))


def delta_auprc(labels: np.ndarray, scores: np.ndarray) -> float:
    """AUPRC minus the fraction of actives (FS-Mol's ΔAUPRC; 0 is a random ranking)."""
    labels = np.asarray(labels)
    return float(average_precision_score(labels, scores) - labels.mean())


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (0.5 is a random ranking)."""
    return float(roc_auc_score(labels, scores))


METRICS = {"delta_auprc": delta_auprc, "roc_auc": roc_auc}
