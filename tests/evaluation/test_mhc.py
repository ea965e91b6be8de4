"""The MHC class I protocol's metrics and per-support methods (molprior.evaluation.mhc), on 300
real HLA-B*07:02 measurements (exact and censored) and the shipped MHC model: ROC-AUC on the
measurements whose binder call is decided, Spearman on exact ones, a network trained on one
support from scratch, the training allele whose model ranks the support best, and a random
forest on the support."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from molprior.data.mhc import allele_tasks, measurements_from_frame
from molprior.data.schema import ABOVE, BELOW, EXACT
from molprior.data.tasks import FewShotTask
from molprior.evaluation import mhc
from molprior.evaluation.mhc import forest_scores, nearest_allele_scores, query_metrics, train_from_scratch
from molprior.evaluation.mhc_baselines import PerAlleleForest
from molprior.meta.allele_learner import AFFINITY
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.meta.scorer import Representation
from molprior.models.allele_model import PeptideFeatures

MHC = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"
ALLELE = "HLA-B*07:02"


@pytest.fixture(scope="module")
def task() -> FewShotTask:
    """300 HLA-B*07:02 measurements (exact, < and >), as the protocol's allele task."""
    raw = pd.read_csv(MHC)
    measured = measurements_from_frame(raw[raw["allele"] == ALLELE].sample(300, random_state=0)).table
    peptides = sorted(set(measured["peptide"]))
    task = allele_tasks(measured, {p: i for i, p in enumerate(peptides)}, [ALLELE])[0]
    assert set(task.relations) == {EXACT, BELOW, ABOVE} and np.isnan(task.labels).any()
    return task


@dataclass
class Split:
    support: np.ndarray  # positions in the task
    query: np.ndarray
    body: Representation  # the shipped model's embeddings (and shared body) of the task's peptides


@pytest.fixture(scope="module")
def predictor() -> MHCPredictor:
    from molprior.serialization import load_predictor
    from molprior.tracking.artifacts import SHIPPED_MHC

    return load_predictor(SHIPPED_MHC)


@pytest.fixture(scope="module")
def split(task, predictor) -> Split:
    """64 measurements as the support, the rest as the query."""
    order = np.random.default_rng(0).permutation(len(task))
    return Split(order[:64], order[64:], predictor.body(task.inputs))


def test_a_perfect_ranking_scores_one_and_its_reverse_zero(task):
    query = np.arange(len(task))
    perfect = task.values.astype(np.float64)
    assert query_metrics(task, query, perfect) == mhc.QueryMetrics(1.0, 1.0)
    assert query_metrics(task, query, -perfect) == mhc.QueryMetrics(0.0, -1.0)


def test_undecided_measurements_leave_the_auc_and_censored_ones_the_spearman(task):
    """A measurement such as '< 5,000 nM' does not say whether the peptide binds at 500 nM; no
    censored measurement has an exact value to rank."""
    query = np.arange(len(task))
    predicted = task.values.astype(np.float64)
    undecided = np.isnan(task.labels)
    rng = np.random.default_rng(0)
    scrambled = predicted.copy()
    scrambled[undecided] = rng.uniform(0, 1, undecided.sum())
    assert query_metrics(task, query, scrambled).roc_auc == 1.0
    censored = task.relations != EXACT
    scrambled = predicted.copy()
    scrambled[censored] = rng.uniform(0, 1, censored.sum())
    metrics = query_metrics(task, query, scrambled)
    assert metrics.spearman == 1.0 and metrics.roc_auc < 1.0  # decided censored rows do count for the AUC


def test_metrics_that_a_query_cannot_define_are_nan(task):
    binders = np.flatnonzero(task.labels == 1)
    exact = np.flatnonzero(task.relations == EXACT)
    one_class = query_metrics(task, binders, task.values[binders].astype(np.float64))
    assert np.isnan(one_class.roc_auc) and np.isfinite(one_class.spearman)
    censored = np.flatnonzero((task.relations != EXACT) & ~np.isnan(task.labels))
    few_exact = np.concatenate([censored, exact[:2]])
    metrics = query_metrics(task, few_exact, task.values[few_exact].astype(np.float64))
    assert np.isnan(metrics.spearman) and np.isfinite(metrics.roc_auc)


def _scratch_scores(task, split, seed):
    features = split.body.inputs.x
    model = train_from_scratch(features[split.support], torch.from_numpy(task.values[split.support]),
                               torch.from_numpy(task.relations[split.support]), seed=seed)
    assert not model.training
    with torch.no_grad():
        return [AFFINITY.output(model(PeptideFeatures(features[rows]))).numpy() for rows in (split.support, split.query)]


def test_a_network_trained_on_the_support_alone_fits_it_and_ranks_the_query(task, split):
    """The ``pretrained_no_meta`` baseline on the shipped peptide embeddings; measured: support
    Spearman 0.98, query ROC-AUC 0.80."""
    support, query = _scratch_scores(task, split, seed=0)
    exact = task.relations[split.support] == EXACT
    assert spearmanr(support[exact], task.values[split.support][exact]).statistic > 0.85
    assert query_metrics(task, split.query, query).roc_auc > 0.7
    np.testing.assert_array_equal(_scratch_scores(task, split, seed=0)[1], query)  # seeded: dropout included
    assert not np.array_equal(_scratch_scores(task, split, seed=1)[1], query)


def test_the_nearest_allele_is_the_one_whose_model_ranks_the_support_best(task, split, predictor):
    support_body, query_body = split.body[split.support], split.body[split.query]
    own = predictor.scores_from_body(support_body, "HLA-A*03:01")
    allele, scores = nearest_allele_scores(predictor, support_body, own, query_body)
    assert allele == "HLA-A*03:01"
    np.testing.assert_array_equal(scores, predictor.scores_from_body(query_body, "HLA-A*03:01"))
    # with the real measurements, the allele chosen ranks the rest of them well (measured: 0.975)
    allele, scores = nearest_allele_scores(predictor, support_body, task.values[split.support], query_body)
    assert allele in predictor.supported and query_metrics(task, split.query, scores).roc_auc > 0.85


@pytest.mark.filterwarnings("ignore:An input array is constant")
def test_a_support_no_allele_can_rank_falls_back_to_the_first(split, predictor):
    """Measurements all at one value: no model's Spearman is defined."""
    support_body, query_body = split.body[split.support], split.body[split.query]
    allele, scores = nearest_allele_scores(predictor, support_body, np.full(len(split.support), 0.3), query_body)
    assert allele == predictor.supported[0]
    np.testing.assert_array_equal(scores, predictor.scores_from_body(query_body, allele))


def test_the_forest_learns_from_the_support_with_censored_values_at_their_bound(task, split, monkeypatch):
    """100 trees instead of 500, to keep it quick."""
    monkeypatch.setattr(mhc, "PerAlleleForest", lambda scheme, seed, n_jobs: PerAlleleForest(
        scheme, n_estimators=100, seed=seed, n_jobs=n_jobs))
    predicted = forest_scores("blosum62", task, split.support, split.query, seed=3, n_jobs=1)
    direct = PerAlleleForest("blosum62", n_estimators=100, seed=3).fit(
        [task.inputs[i] for i in split.support], task.values[split.support])
    np.testing.assert_array_equal(predicted, direct.predict([task.inputs[i] for i in split.query]))
    assert query_metrics(task, split.query, predicted).roc_auc > 0.7  # measured: 0.82 with 500 trees
