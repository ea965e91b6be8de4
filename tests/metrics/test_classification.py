import numpy as np
import pytest

from molprior.metrics.classification import delta_auprc, roc_auc


def test_perfect_ranking():
    labels = np.array([0, 0, 1, 1, 0, 1])
    scores = np.array([0.1, 0.2, 0.9, 0.8, 0.3, 0.7])
    assert roc_auc(labels, scores) == 1.0
    assert delta_auprc(labels, scores) == pytest.approx(1.0 - 0.5)


def test_inverted_ranking_is_worst():
    labels = np.array([1, 1, 0, 0])
    scores = np.array([0.1, 0.2, 0.8, 0.9])
    assert roc_auc(labels, scores) == 0.0
    assert delta_auprc(labels, scores) < 0


def test_delta_auprc_subtracts_active_fraction():
    labels = np.array([1, 0, 0, 0])
    scores = np.array([0.9, 0.1, 0.2, 0.3])
    assert delta_auprc(labels, scores) == pytest.approx(1.0 - 0.25)
