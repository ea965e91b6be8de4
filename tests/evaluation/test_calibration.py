"""Calibration and confidence measures of methods with a predictive spread."""

import numpy as np
import pandas as pd
import pytest

from molprior.evaluation.calibration import calibration_row, calibration_summary, expected_calibration_error


def test_ece_of_calibrated_and_of_overconfident_probabilities():
    rng = np.random.default_rng(0)
    p = rng.random(20000)
    labels = (rng.random(20000) < p).astype(float)  # drawn at their own probabilities: calibrated
    assert expected_calibration_error(labels, p) < 0.02
    assert expected_calibration_error(labels, np.where(p > 0.5, 0.99, 0.01)) > 0.2
    assert expected_calibration_error(np.array([1.0, 0.0]), np.array([1.0, 0.0])) == 0.0


def test_the_confident_half_is_the_half_with_the_smaller_spread():
    labels = np.array([1, 0, 1, 0, 1, 0, 1, 0], dtype=float)
    good = np.array([3, -3, 3, -3, 0.1, 0.2, -0.1, 0.3])  # right where the spread is small
    spread = np.array([0.1, 0.1, 0.1, 0.1, 2, 2, 2, 2])
    row = calibration_row(labels, good, spread)
    assert row["delta_auprc_confident"] == pytest.approx(0.5)  # perfect ranking of a half-active half
    assert row["delta_auprc_uncertain"] < row["delta_auprc_confident"]
    one_class = calibration_row(np.array([1, 1, 0, 0.0]), np.array([1, 2, 3, 4.0]), np.array([0, 0, 1, 1.0]))
    assert np.isnan(one_class["delta_auprc_confident"])


def test_summary_covers_only_methods_with_a_spread():
    per_draw = pd.DataFrame({"method": ["a", "a", "b"], "support_size": 16, "assay": ["x", "y", "x"],
                             "ece": [0.1, 0.3, np.nan], "delta_auprc_confident": [0.2, 0.4, np.nan],
                             "delta_auprc_uncertain": [0.1, 0.1, np.nan]})
    summary = calibration_summary(per_draw)
    assert summary["method"].tolist() == ["a"] and summary["n_tasks"].tolist() == [2]
    assert summary["ece"].iloc[0] == pytest.approx(0.2)
    assert calibration_summary(per_draw.drop(columns=["ece"])).empty
