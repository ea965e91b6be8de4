"""Meta-training and meta-validation episodes as Lightning data, for both kinds of task: assays
(balanced supports over graphs) and alleles (random supports over peptide embeddings, here of
real HLA-A*02:01, HLA-B*07:02 and HLA-B*35:01 measurements encoded with BLOSUM62)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.data.mhc import allele_tasks, measurements_from_frame
from molprior.errors import InputError
from molprior.immunology.amino_acids import encode_peptides
from molprior.meta.batches import FeatureBank
from molprior.training.metatrain_data import MetaDataModule, TrainingEpisodes, drawable, validation_assays

MHC_FILE = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"


@pytest.fixture(scope="module")
def measurements():
    """300 real measurements each of HLA-A*02:01 and HLA-B*07:02, 60 of HLA-B*35:01, and the
    BLOSUM62 features of every distinct peptide."""
    table = pd.read_csv(MHC_FILE)
    parts = [table[table["allele"] == a].sample(n, random_state=1)
             for a, n in (("HLA-A*02:01", 300), ("HLA-B*07:02", 300), ("HLA-B*35:01", 60))]
    result = measurements_from_frame(pd.concat(parts)).table
    peptides = sorted(set(result["peptide"]))
    return result, {p: i for i, p in enumerate(peptides)}, torch.from_numpy(encode_peptides(peptides))


@pytest.fixture(scope="module")
def tasks(measurements):
    table, rows, _ = measurements
    return allele_tasks(table, rows, ["HLA-A*02:01", "HLA-B*07:02", "HLA-B*35:01"])


def _bank(measurements) -> FeatureBank:
    _, rows, features = measurements
    return FeatureBank(features, sorted(rows, key=rows.get))


def test_alleles_are_training_episodes_of_the_random_protocol(measurements, tasks):
    _, _, features = measurements
    episodes = TrainingEpisodes(tasks, _bank(measurements), support_sizes=[16, 32], query_size=64,
                                task_type="affinity", length=12, seed=7, protocol="random")
    assert [t.assay for t in episodes.tasks] == [t.assay for t in tasks]  # all have >= 16 + 9 measurements
    first = [episodes[i] for i in range(len(episodes))]
    for episode in first:
        task = next(t for t in tasks if t.assay == episode.assay)
        assert len(episode.support) in (16, 32) and len(episode.query) == min(64, len(task) - len(episode.support))
        assert episode.support.x.shape[1] == features.shape[1]
        assert episode.support_targets.dtype == torch.float32 and episode.query_relations.dtype == torch.int64
        scores = set(task.values.tolist())
        assert set(episode.support_targets.tolist()) <= scores  # the transformed affinities, not the labels
    flat = [(e.assay, e.support_targets.tolist()) for e in first]
    assert flat == [(e.assay, e.support_targets.tolist()) for e in (episodes[i] for i in range(len(episodes)))]
    episodes.epoch = 1
    assert flat != [(e.assay, e.support_targets.tolist()) for e in (episodes[i] for i in range(len(episodes)))]
    small = TrainingEpisodes(tasks, _bank(measurements), [64], 32, "affinity", 2, protocol="random")
    assert [t.assay for t in small.tasks] == ["HLA-A*02:01", "HLA-B*07:02"]  # B*35:01 (60) cannot be drawn


def test_validation_draws_of_alleles_are_fixed(measurements, tasks):
    assays = validation_assays(tasks[:2], _bank(measurements), support_size=32, draws=3, task_type="affinity",
                               seed=0, protocol="random")
    assert [a.task.assay for a in assays] == ["HLA-A*02:01", "HLA-B*07:02"]
    first = assays[0].episodes
    assert all(len(e.support) == 32 and len(e.support) + len(e.query) == len(tasks[0]) for e in first)
    again = validation_assays(tasks[:2], _bank(measurements), 32, 3, "affinity", 0, "random")
    assert all(np.array_equal(a.support, b.support) for a, b in zip(first, again[0].episodes))
    assert not np.array_equal(first[0].support, first[1].support)  # three different draws


def test_which_tasks_can_be_drawn_depends_on_the_protocol(tasks):
    b3501 = tasks[2]  # 60 measurements
    assert drawable(b3501, 32, "random") and not drawable(b3501, 56, "random")
    assert drawable(b3501, 16, "balanced") == (min((b3501.labels == 1).sum(), (b3501.labels == 0).sum()) > 8)
    with pytest.raises(InputError, match="unknown training protocol"):
        TrainingEpisodes(tasks, FeatureBank(torch.zeros(1, 1), ["A"]), [16], 8, "affinity", 1, protocol="stratified")


def test_the_data_module_hands_over_steps_of_episodes_and_one_assay_at_a_time(measurements, tasks):
    episodes = TrainingEpisodes(tasks, _bank(measurements), [16], 32, "affinity", 6, protocol="random")
    validation = validation_assays(tasks[:2], _bank(measurements), 16, 2, "affinity", protocol="random")
    data = MetaDataModule(episodes, validation, tasks_per_step=3)
    steps = list(data.train_dataloader())
    assert [len(step) for step in steps] == [3, 3]
    assert [assay.task.assay for assay in data.val_dataloader()] == ["HLA-A*02:01", "HLA-B*07:02"]
