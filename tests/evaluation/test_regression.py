"""The fingerprint regression baselines and the MoleculeACE scores (RMSE, cliff RMSE)."""

import numpy as np
import pandas as pd
import pytest

from molprior.chem.fingerprints import ecfp
from molprior.data.readers import read_moleculeace
from molprior.evaluation.regression import (
    RESULT_COLUMNS, cliff_rmse, format_summary, results_row, rf_ecfp_predict, rmse, summarize, svr_ecfp_predict,
)


@pytest.fixture(scope="module")
def target(moleculeace_dir):
    """CHEMBL2047_EC50 as MoleculeACE splits it (503 training, 128 test molecules)."""
    table = read_moleculeace(moleculeace_dir / "CHEMBL2047_EC50.csv").table
    train, test = table[table["split"] == "train"], table[table["split"] == "test"]
    return (ecfp(train["input"].tolist()), train["value"].to_numpy(), ecfp(test["input"].tolist()),
            test["value"].to_numpy(), test["cliff_mol"].to_numpy())


@pytest.mark.parametrize("predict", [svr_ecfp_predict, rf_ecfp_predict], ids=["svr", "rf"])
def test_baselines_beat_the_training_mean(target, predict):
    train_x, train_y, test_x, test_y, _ = target
    predicted = predict(train_x, train_y, test_x)
    assert predicted.shape == test_y.shape
    baseline = rmse(test_y, np.full(len(test_y), train_y.mean()))
    assert rmse(test_y, predicted) < 0.8 * baseline


def test_random_forest_is_reproducible(target):
    train_x, train_y, test_x, _, _ = target
    first = rf_ecfp_predict(train_x[:200], train_y[:200], test_x, seed=1, n_estimators=20)
    again = rf_ecfp_predict(train_x[:200], train_y[:200], test_x, seed=1, n_estimators=20)
    np.testing.assert_array_equal(first, again)


def test_cliff_rmse_reads_only_the_cliff_molecules():
    y = np.array([5.0, 6.0, 7.0, 8.0])
    predicted = np.array([5.0, 7.0, 9.0, 8.0])  # errors 0, 1, 2, 0
    cliff = np.array([0, 1, 1, 0])
    assert rmse(y, predicted) == pytest.approx(np.sqrt(5 / 4))
    assert cliff_rmse(y, predicted, cliff) == pytest.approx(np.sqrt((1 + 4) / 2))
    assert np.isnan(cliff_rmse(y, predicted, np.zeros(4)))
    row = results_row("svr_ecfp", "A", y, predicted, cliff)
    assert tuple(row) == RESULT_COLUMNS
    assert row["rmse_cliff"] == pytest.approx(np.sqrt(2.5))


def test_rmse_refuses_mismatched_lengths():
    with pytest.raises(ValueError, match="3 measurements but 2 predictions"):
        rmse(np.zeros(3), np.zeros(2))


def test_summary_weighs_every_target_the_same():
    results = pd.DataFrame([("svr_ecfp", "A", 0.5, 0.7), ("svr_ecfp", "B", 0.9, float("nan")),
                            ("rf_ecfp", "A", 0.6, 0.8), ("rf_ecfp", "B", 1.0, 1.2)], columns=list(RESULT_COLUMNS))
    summary = summarize(results).set_index("method")
    assert list(summary.index) == ["svr_ecfp", "rf_ecfp"]
    assert summary.loc["svr_ecfp", "rmse"] == pytest.approx(0.7)
    assert summary.loc["svr_ecfp", "rmse_cliff"] == pytest.approx(0.7)  # a target without cliff molecules is skipped
    assert summary.loc["rf_ecfp", "rmse_cliff"] == pytest.approx(1.0)
    assert (summary["n_assays"] == 2).all()
    text = format_summary(summary.reset_index())
    assert "svr_ecfp" in text and "0.700" in text
