import numpy as np
import pandas as pd
import torch

from molprior.chem.fingerprints import ecfp
from molprior.data.episodes import fewshot_episodes
from molprior.data.tasks import FewShotTask
from molprior.metrics.classification import roc_auc
from molprior.evaluation.probes import (
    embed_smiles, logistic_probe_method, mlp_probe, regression_probes, ridge_probe, rmse,
)
from molprior.models.encoder import EncoderConfig, GraphEncoder


def test_ridge_probe_recovers_a_linear_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 10))
    y = x @ rng.normal(size=10)
    predicted = ridge_probe(x[:150], y[:150], x[150:])
    assert rmse(y[150:], predicted) < 0.1 * y.std()


def test_mlp_probe_learns_a_nonlinear_signal():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 3))
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2
    assert rmse(y[500:], mlp_probe(x[:500], y[:500], x[500:])) < 0.6 * y.std()


def test_embeddings_and_regression_probes_on_real_molecules(moleculeace_dir):
    frame = pd.read_csv(moleculeace_dir / "CHEMBL4203_Ki.csv")
    table = pd.DataFrame({"smiles": frame["smiles"], "value": frame["y"] + 9, "split": frame["split"],
                          "assay": "CHEMBL4203_Ki"})
    torch.manual_seed(0)
    vectors = embed_smiles(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=2)), table["smiles"].tolist())
    assert len(vectors) == table["smiles"].nunique() and next(iter(vectors.values())).shape == (16,)
    fingerprints = dict(zip(table["smiles"], ecfp(table["smiles"].tolist()).astype(np.float32)))
    result = regression_probes(table, {"random": vectors, "ecfp4": fingerprints})
    assert set(result["probe"]) == {"ridge", "mlp"} and set(result["representation"]) == {"random", "ecfp4"}
    ridge_ecfp = result[(result.probe == "ridge") & (result.representation == "ecfp4")]["rmse"].iloc[0]
    assert ridge_ecfp < table["value"].std()  # ECFP4 carries the signal on a SAR series


def test_logistic_probe_method_ranks_a_real_assay(moleculeace_dir):
    frame = pd.read_csv(moleculeace_dir / "CHEMBL214_Ki.csv")
    labels = (frame["y"] >= frame["y"].median()).astype(float).to_numpy()
    task = FewShotTask("CHEMBL214_Ki", frame["smiles"].tolist(), labels)
    vectors = dict(zip(task.inputs, ecfp(task.inputs).astype(np.float32)))
    method = logistic_probe_method(vectors)
    episode = fewshot_episodes(labels, 64, 1, seed=0)[0]
    assert roc_auc(labels[episode.query], method(task, episode, 0)) > 0.6
