"""Fingerprint baselines of the few-shot protocol: random forest on ECFP4 and Tanimoto kNN.

Both follow FS-Mol's baselines: they are fitted on the support set alone and score the
query with the probability of being active.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier

from molprior.chem.fingerprints import tanimoto


def random_forest_scores(support_x: np.ndarray, support_y: np.ndarray, query_x: np.ndarray,
                         seed: int = 0, n_estimators: int = 100) -> np.ndarray:
    """Random forest on fingerprints (FS-Mol's strongest simple baseline)."""
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=seed, n_jobs=1)
    model.fit(support_x, support_y)
    return model.predict_proba(query_x)[:, list(model.classes_).index(1)]


def tanimoto_knn_scores(support_x: np.ndarray, support_y: np.ndarray, query_x: np.ndarray,
                        k: int = 5) -> np.ndarray:
    """Similarity-weighted vote of the ``k`` most Tanimoto-similar support molecules."""
    similarity = tanimoto(query_x, support_x)
    k = min(k, similarity.shape[1])
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
    weights = np.take_along_axis(similarity, nearest, axis=1) + 1e-6
    votes = np.asarray(support_y, dtype=np.float64)[nearest]
    return (weights * votes).sum(1) / weights.sum(1)
