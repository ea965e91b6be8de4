"""Full-data regression on MoleculeACE: the fingerprint baselines, RMSE and the per-method table.

MoleculeACE scores a model by its RMSE on a target's test split and by its RMSE on the
test molecules that take part in an activity cliff (``cliff_mol == 1``).  The baselines
here are fitted on a target's training split alone:

* ``svr_ecfp``: support vector regression with a Tanimoto kernel on ECFP4 bits;
* ``rf_ecfp``: a random forest on the same bits.

``C`` (:data:`SVR_C`) was chosen once, on validation slices carved from the training
splits (never the test splits): C = 1, 5, 10 and 50 gave mean RMSE 0.706, 0.674, 0.675
and 0.678 over the 30 targets.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestRegressor
from sklearn.svm import SVR

from molprior.chem.fingerprints import tanimoto

RESULT_COLUMNS = ("method", "assay", "rmse", "rmse_cliff")
SUMMARY_COLUMNS = ("method", "n_assays", "rmse", "rmse_cliff")

SVR_C = 5.0
SVR_EPSILON = 0.1
RF_TREES = 300


def svr_ecfp_predict(train_fp: np.ndarray, train_y: np.ndarray, test_fp: np.ndarray, C: float = SVR_C,
                     epsilon: float = SVR_EPSILON) -> np.ndarray:
    """Predictions of an SVR with a Tanimoto kernel fitted on binary fingerprints."""
    model = SVR(kernel="precomputed", C=C, epsilon=epsilon)
    model.fit(tanimoto(train_fp, train_fp).astype(np.float64), np.asarray(train_y, dtype=np.float64))
    return model.predict(tanimoto(test_fp, train_fp).astype(np.float64))


def rf_ecfp_predict(train_fp: np.ndarray, train_y: np.ndarray, test_fp: np.ndarray, seed: int = 0,
                    n_estimators: int = RF_TREES) -> np.ndarray:
    """Predictions of a random forest (``sqrt`` features per split, fixed seed) on fingerprints."""
    model = RandomForestRegressor(n_estimators=n_estimators, max_features="sqrt", random_state=seed, n_jobs=1)
    model.fit(train_fp, np.asarray(train_y, dtype=np.float64))
    return model.predict(test_fp)


def rmse(y: np.ndarray, predicted: np.ndarray) -> float:
    """Root-mean-square error; NaN for no molecules."""
    y, predicted = np.asarray(y, dtype=np.float64), np.asarray(predicted, dtype=np.float64)
    if y.shape != predicted.shape:
        raise ValueError(f"{len(y)} measurements but {len(predicted)} predictions")
    return float(np.sqrt(np.mean((y - predicted) ** 2))) if len(y) else float("nan")


def cliff_rmse(y: np.ndarray, predicted: np.ndarray, cliff: np.ndarray) -> float:
    """RMSE on the activity-cliff molecules (``cliff == 1``) only."""
    mask = np.asarray(cliff) == 1
    return rmse(np.asarray(y)[mask], np.asarray(predicted)[mask])


def results_row(method: str, assay: str, y: np.ndarray, predicted: np.ndarray, cliff: np.ndarray) -> dict:
    """One row of ``results.csv``: the test-split RMSE and the cliff RMSE of one method on one target."""
    return {"method": method, "assay": assay, "rmse": rmse(y, predicted), "rmse_cliff": cliff_rmse(y, predicted, cliff)}


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Mean RMSE and mean cliff RMSE per method over targets (each target weighs the same)."""
    if results.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    grouped = results.groupby("method", sort=False)
    summary = pd.DataFrame({"n_assays": grouped["assay"].nunique(), "rmse": grouped["rmse"].mean(),
                            "rmse_cliff": grouped["rmse_cliff"].mean()}).reset_index()
    return summary[list(SUMMARY_COLUMNS)]


def format_summary(summary: pd.DataFrame) -> str:
    """The per-method means as a plain-text table."""
    lines = [f"{'method':<14} {'assays':>6} {'RMSE':>7} {'RMSE cliff':>10}"]
    for row in summary.itertuples(index=False):
        lines.append(f"{row.method:<14} {row.n_assays:>6d} {row.rmse:>7.3f} {row.rmse_cliff:>10.3f}")
    return "\n".join(lines)
