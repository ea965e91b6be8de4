"""The allele model, its MAML learner with the censored loss, and alleles as few-shot tasks, on
real HLA-A*02:01, HLA-B*07:02 and HLA-B*35:01 measurements (peptides encoded with BLOSUM62,
which keeps these tests fast; the learner takes any fixed-size peptide features)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.immunology.amino_acids import encode_peptides
from molprior.data.episodes import random_episode
from molprior.data.mhc import allele_tasks, ic50_to_score, measurements_from_frame
from molprior.meta.allele_learner import AFFINITY, allele_learner, fine_tune_allele, score_loss
from molprior.meta.learner import FewShotLearner
from molprior.meta.losses import ABOVE, BELOW, EXACT
from molprior.meta.maml import MAMLConfig
from molprior.models.allele_model import AlleleModelConfig, PeptideFeatures, allele_task_model

MHC_FILE = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"

SMALL = AlleleModelConfig(body_hidden=64, body_dim=32, head_hidden=32, dropout=0.0)


@pytest.fixture(scope="module")
def measurements():
    """300 real measurements each of HLA-A*02:01 and HLA-B*07:02 (exact and censored), 60 of
    HLA-B*35:01, and the BLOSUM62 features of every distinct peptide."""
    table = pd.read_csv(MHC_FILE)
    parts = [table[table["allele"] == a].sample(n, random_state=1)
             for a, n in (("HLA-A*02:01", 300), ("HLA-B*07:02", 300), ("HLA-B*35:01", 60))]
    result = measurements_from_frame(pd.concat(parts)).table
    peptides = sorted(set(result["peptide"]))
    features = torch.from_numpy(encode_peptides(peptides))
    return result, {p: i for i, p in enumerate(peptides)}, features


@pytest.fixture(scope="module")
def tasks(measurements):
    table, rows, _ = measurements
    return allele_tasks(table, rows, ["HLA-A*02:01", "HLA-B*07:02", "HLA-B*35:01"])


def _split(task, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Support and query of a random-protocol episode of ``task`` (as the MHC protocol draws them)."""
    episode = random_episode(task.labels, size, rng)
    return episode.support, episode.query


def _learner(input_dim: int, **maml) -> FewShotLearner:
    torch.manual_seed(0)
    return allele_learner(input_dim, SMALL, MAMLConfig(**{"anil": True, "inner_steps": 20, "inner_lr": 0.5, **maml}))


def _loss(learner, head, features, task, index):
    """The censored loss on ``index`` of the model with the head's parameters ``head``."""
    x = PeptideFeatures(features[torch.from_numpy(task.rows[index])])
    with torch.no_grad():
        logits = learner.maml.predict(head, x)
    return float(score_loss(torch.from_numpy(task.relations[index]))(logits, torch.from_numpy(task.values[index])))


def test_score_loss_counts_censored_measurements_only_when_violated():
    bound = float(ic50_to_score(20_000.0))  # "IC50 > 20000 nM": the score is below 0.0847
    predicted = torch.tensor([0.05, 0.5, 0.9, 0.5, 0.5])
    targets = torch.tensor([bound, bound, 0.6, 0.6, 0.3])
    relations = torch.tensor([BELOW, BELOW, ABOVE, ABOVE, EXACT])
    loss = score_loss(relations)(torch.logit(predicted), targets)
    expected = ((0.5 - bound) ** 2 + 0.1 ** 2 + 0.2 ** 2) / 5  # rows 0 and 2 are on the right side of their bound
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    exact = score_loss(None)(torch.logit(predicted), targets)
    assert float(exact) == pytest.approx(float(((predicted - targets) ** 2).mean()), rel=1e-5)


def test_a_random_episode_splits_the_task(tasks):
    task = tasks[0]
    rng = np.random.default_rng(0)
    for size in (16, 32, 128):
        support, query = _split(task, size, rng)
        assert len(support) == size and len(query) == len(task) - size
        assert not set(support) & set(query) and sorted([*support, *query]) == list(range(len(task)))
        labels = task.labels[support]
        assert (labels == 1).any() and (labels == 0).any()


def test_a_random_episode_always_includes_a_binder_and_a_non_binder_when_there_is_one():
    """300 real HLA-B*35:01 non-binders and a single binder: every support must hold the binder
    (a random support of 16 misses it 19 times in 20, and twenty redraws still a third of the time)."""
    table = pd.read_csv(MHC_FILE)
    b3501 = measurements_from_frame(table[table["allele"] == "HLA-B*35:01"]).table
    one = pd.concat([b3501[b3501["label"] == 0].head(300), b3501[b3501["label"] == 1].head(1)])
    rows = {p: i for i, p in enumerate(sorted(set(one["peptide"])))}
    task = allele_tasks(one, rows, ["HLA-B*35:01"])[0]
    assert np.nansum(task.labels) == 1 and (task.labels == 0).sum() == 300
    rng = np.random.default_rng(0)
    missing = sum(not (task.labels[random_episode(task.labels, 16, rng).support] == 1).any() for _ in range(200))
    assert missing == 0, f"{missing} of 200 supports of 16 have no binder"


def test_task_model_outputs_one_logit_per_peptide(measurements):
    _, _, features = measurements
    model = allele_task_model(features.shape[1], SMALL)
    assert model(PeptideFeatures(features[:7])).shape == (7,)
    assert model.represent(features[:7]).shape == (7, SMALL.body_dim)
    assert SMALL.to_dict() == {"body_hidden": 64, "body_dim": 32, "head_hidden": 32, "dropout": 0.0}


def test_adaptation_fits_the_support_without_touching_the_initialisation(measurements, tasks):
    _, _, features = measurements
    task = tasks[0]
    learner = _learner(features.shape[1]).eval()
    before = {k: v.clone() for k, v in learner.state_dict().items()}
    support, query = _split(task, 64, np.random.default_rng(0))
    x = PeptideFeatures(features[torch.from_numpy(task.rows[support])])
    adapted = learner.adapt(x, torch.from_numpy(task.values[support]), torch.from_numpy(task.relations[support]))
    head = adapted.head()
    assert set(head) == {name for name, _ in learner.model.head.named_parameters()}
    body = {n: p for n, p in adapted.params.items() if n.startswith("body.")}
    assert all(torch.equal(p, learner.model.get_parameter(n)) for n, p in body.items())  # ANIL: the head only
    assert not any(p.requires_grad for p in adapted.params.values())
    initial = dict(learner.model.head.named_parameters())
    assert _loss(learner, head, features, task, support) < 0.8 * _loss(learner, initial, features, task, support)
    assert all(torch.equal(v, before[k]) for k, v in learner.state_dict().items())
    predicted = AFFINITY.output(learner.predict(adapted, PeptideFeatures(features[torch.from_numpy(task.rows[query])])))
    assert predicted.shape == (len(query),) and ((predicted > 0) & (predicted < 1)).all()


def test_meta_loss_reaches_the_body_through_the_inner_loop(measurements, tasks):
    _, _, features = measurements
    task = tasks[1]
    for first_order in (False, True):
        learner = _learner(features.shape[1], inner_steps=3, first_order=first_order).train()
        support, query = _split(task, 32, np.random.default_rng(1))
        part = lambda i: (PeptideFeatures(features[torch.from_numpy(task.rows[i])]),  # noqa: E731
                          torch.from_numpy(task.values[i]))
        relations = lambda i: torch.from_numpy(task.relations[i])  # noqa: E731
        loss = learner.meta_loss(*part(support), *part(query), relations(support), relations(query))
        loss.backward()
        body = [p.grad for p in learner.model.body.parameters()]
        head = [p.grad for p in learner.model.head.parameters()]
        assert all(g is not None for g in body + head)
        assert sum(float(g.abs().sum()) for g in body) > 0 and sum(float(g.abs().sum()) for g in head) > 0


def test_fine_tuning_trains_head_and_body_adapter_on_all_measurements(measurements, tasks):
    """From the meta-learned head and the shared body: seeded, the learner untouched, the loss on
    the allele's measurements well down, and the adapter's low-rank update really used."""
    _, _, features = measurements
    task = tasks[0]
    learner = _learner(features.shape[1]).eval()
    before_state = {k: v.clone() for k, v in learner.state_dict().items()}
    x = features[torch.from_numpy(task.rows)]
    scores, relations = torch.from_numpy(task.values), torch.from_numpy(task.relations)
    tuned = fine_tune_allele(learner, x, scores, relations, epochs=20, lr=3e-3, body_lr=1e-3, rank=4,
                             batch_size=64, seed=0)
    again = fine_tune_allele(learner, x, scores, relations, epochs=20, lr=3e-3, body_lr=1e-3, rank=4,
                             batch_size=64, seed=0)
    assert all(torch.equal(tuned.head[k], again.head[k]) for k in tuned.head)  # seeded
    assert all(torch.equal(tuned.body[k], again.body[k]) for k in tuned.body)
    assert all(torch.equal(v, before_state[k]) for k, v in learner.state_dict().items())
    assert tuned.body["1.lora_a"].shape == (4, features.shape[1]) and tuned.body["1.lora_b"].abs().max() > 0
    loss = score_loss(relations)
    with torch.no_grad():
        initial = loss(learner.model(PeptideFeatures(x)), scores)
    after = loss(torch.logit(tuned.predict(learner, x).clamp(1e-6, 1 - 1e-6)), scores)
    assert after < 0.7 * initial
    head_only = _loss(learner, tuned.head, features, task, np.arange(len(task)))  # the head on the shared body
    assert after < head_only
