import numpy as np
import pandas as pd

from molprior.chem.fingerprints import ecfp
from molprior.data.episodes import fewshot_episodes
from molprior.data.labels import assign_labels
from molprior.data.schema import assay_table
from molprior.metrics.classification import roc_auc
from molprior.meta.baselines import random_forest_scores, tanimoto_knn_scores


def _assay(moleculeace_dir, name):
    frame = pd.read_csv(moleculeace_dir / f"{name}.csv")
    table = assign_labels(assay_table(np.arange(len(frame)) + 2, frame["smiles"], name, frame["y"] + 9, unit="pKi"))
    return ecfp(table["input"].tolist()), table["label"].to_numpy()


def test_random_forest_learns_a_real_assay(moleculeace_dir):
    x, y = _assay(moleculeace_dir, "CHEMBL214_Ki")
    aucs = []
    for episode in fewshot_episodes(y, 64, 3, seed=0):
        scores = random_forest_scores(x[episode.support], y[episode.support], x[episode.query], seed=0)
        assert scores.shape == (len(episode.query),)
        assert ((scores >= 0) & (scores <= 1)).all()
        aucs.append(roc_auc(y[episode.query], scores))
    assert np.mean(aucs) > 0.65  # a broken model or shuffled labels gives about 0.5


def test_knn_scores_a_support_molecule_like_its_label(moleculeace_dir):
    x, y = _assay(moleculeace_dir, "CHEMBL204_Ki")
    episode = fewshot_episodes(y, 32, 1, seed=1)[0]
    support_x, support_y = x[episode.support], y[episode.support]
    scores = tanimoto_knn_scores(support_x, support_y, support_x, k=1)
    assert np.array_equal(scores.round(), support_y)
    query_scores = tanimoto_knn_scores(support_x, support_y, x[episode.query])
    assert roc_auc(y[episode.query], query_scores) > 0.6
