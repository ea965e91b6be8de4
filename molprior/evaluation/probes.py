"""Probes of a frozen encoder: does its embedding carry the property, compared with others?

A *linear probe* (ridge regression, or logistic regression for few-shot classification)
and a small MLP are fitted on fixed molecule representations: embeddings of a pretrained
encoder, of the same encoder randomly initialised, or ECFP4 bits.  The better the
representation, the lower the probe's error.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.data.episodes import Episode
from molprior.data.tasks import FewShotTask
from molprior.models.encoder import GraphEncoder


@torch.no_grad()
def embed_smiles(encoder: GraphEncoder, smiles: Sequence[str], batch_size: int = 512) -> dict[str, np.ndarray]:
    """Molecule embedding of every canonical SMILES (those that featurise)."""
    encoder.eval()
    result = featurize_smiles(list(dict.fromkeys(smiles)))
    vectors: dict[str, np.ndarray] = {}
    graphs = result.graphs
    for start in range(0, len(graphs), batch_size):
        idx = range(start, min(len(graphs), start + batch_size))
        batch = Batch.from_data_list([graphs[i] for i in idx])
        out = encoder.embed(batch).numpy()
        vectors.update({graphs.smiles[i]: out[k] for k, i in enumerate(idx)})
    return vectors


def features(table: Mapping[str, np.ndarray], smiles: Sequence[str]) -> np.ndarray:
    return np.stack([table[s] for s in smiles]).astype(np.float64)


def ridge_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray) -> np.ndarray:
    """Ridge regression with the penalty chosen by leave-one-out cross-validation."""
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 4, 15)))
    return model.fit(train_x, train_y).predict(test_x)


def mlp_probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, seed: int = 0) -> np.ndarray:
    """A one-hidden-layer MLP (256 units) with early stopping on a tenth of the training set.

    Continuous embeddings are standardised first; 0/1 fingerprints are used as they are
    (standardising rare bits blows them up).
    """
    mlp = MLPRegressor(hidden_layer_sizes=(256,), alpha=1e-2, early_stopping=True, max_iter=500, random_state=seed)
    binary = np.isin(train_x, (0.0, 1.0)).all()
    model = mlp if binary else make_pipeline(StandardScaler(), mlp)
    return model.fit(train_x, train_y).predict(test_x)


def rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(truth) - np.asarray(predicted)) ** 2)))


def regression_probes(table: pd.DataFrame, representations: Mapping[str, Mapping[str, np.ndarray]],
                      progress: Callable[[int], None] | None = None) -> pd.DataFrame:
    """RMSE of the ridge and MLP probes per assay and representation on the ``split`` column
    (``train``/``test``) of a standardised MoleculeACE table."""
    rows = []
    for assay, group in table.groupby("assay", sort=True):
        train, test = group[group["split"] == "train"], group[group["split"] == "test"]
        for name, vectors in representations.items():
            train_x, test_x = features(vectors, train["smiles"]), features(vectors, test["smiles"])
            for probe, fit in (("ridge", ridge_probe), ("mlp", mlp_probe)):
                predicted = fit(train_x, train["value"].to_numpy(), test_x)
                rows.append({"assay": assay, "representation": name, "probe": probe,
                             "rmse": rmse(test["value"], predicted), "n_train": len(train), "n_test": len(test)})
            if progress:
                progress(1)
    return pd.DataFrame(rows)


def logistic_probe_method(vectors: Mapping[str, np.ndarray]):
    """A few-shot method (see :mod:`molprior.evaluation.fewshot`): logistic regression on
    fixed representations, fitted on the support set."""

    def method(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
        x = features(vectors, task.inputs)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        model.fit(x[episode.support], task.labels[episode.support])
        return model.predict_proba(x[episode.query])[:, 1]

    return method
