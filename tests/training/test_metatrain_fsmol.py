"""Meta-training the adkf learner on 20 real FS-Mol training tasks: it learns, exports and adapts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.config import ADKF_HEAD, ADKF_LEARNER, MetaTrainConfig
from molprior.data.prepare import prepare_table
from molprior.meta import gp
from molprior.training.export import load_learner, save_learner
from molprior.training.metatrain_data import TrainingEpisodes
from molprior.workflows.metatrain import build_bank, run_metatraining, split_tasks

FSMOL = Path(__file__).resolve().parents[2] / "data" / "fsmol" / "fsmol.csv.gz"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """20 FS-Mol training tasks of 48 to 80 molecules, two of its valid tasks and one test task
    (first 80 rows)."""
    table = pd.read_csv(FSMOL, keep_default_na=False)
    sizes = table.groupby("assay", sort=False).size()
    train = [a for a in dict.fromkeys(table.loc[table["split"] == "train", "assay"]) if 48 <= sizes[a] <= 80][:20]
    valid = list(dict.fromkeys(table.loc[table["split"] == "valid", "assay"]))[:2]
    test = list(dict.fromkeys(table.loc[table["split"] == "test", "assay"]))[:1]
    subset = table[table["assay"].isin(train + valid + test)].groupby("assay", sort=False).head(80)
    path = tmp_path_factory.mktemp("fsmol") / "fsmol_subset.csv"
    subset.to_csv(path, index=False)
    return prepare_table(path)


def _config(**extra) -> MetaTrainConfig:
    return MetaTrainConfig(**{
        "input": "fsmol_subset.csv", "prior": "random", "val_assays": ["split:valid"], "test_assays": [],
        "encoder": {"hidden_dim": 32, "num_layers": 2}, "head": {**ADKF_HEAD, "hidden_dim": 64},
        "learner": {**ADKF_LEARNER, "gp": {"fit_steps": 10}}, "optim": {"meta_lr": 3e-3},
        "support_sizes": [16], "query_size": 32, "tasks_per_step": 4, "steps_per_epoch": 10, "val_draws": 2,
        "trainer": {"max_epochs": 3, "patience": 10}, **extra})


def _query_nll(learner, episodes) -> float:
    losses = []
    for e in episodes:
        adapted = learner.adapt(e.support, e.support_targets)
        mean, variance = learner.predict_with_variance(adapted, e.query)
        y = gp.signed(e.query_targets)
        losses.append(float((0.5 * (y - mean) ** 2 / variance + 0.5 * variance.log()).mean()))
    return float(np.mean(losses))


def test_adkf_meta_training_on_fsmol_tasks_lowers_the_query_loss(prepared, tmp_path):
    config = _config()
    train, val = split_tasks(prepared, config)
    assert len(train) == 20 and [t.assay for t in val] == list(prepared.assay_groups["split:valid"])
    # FS-Mol's test tasks are never meta-trained on, even when no test assay is named
    assert not {t.assay for t in train} & set(prepared.assay_groups["split:test"])
    bank = build_bank(train + val)
    fixed = [TrainingEpisodes(train, bank, [16], 32, "classification", 8, seed=99)[i] for i in range(8)]

    outcome = run_metatraining(config, tmp_path / "run", prepared=prepared, bank=bank, progress=False)
    assert outcome.metrics["steps_trained"] == 30

    from molprior.training.metatrain_module import MetaTrainModule

    torch.manual_seed(config.seed)
    start = MetaTrainModule(config.encoder, config.head, config.learner).learner.eval()
    last = MetaTrainModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt",
                                                weights_only=False).learner.eval()
    assert _query_nll(last, fixed) < _query_nll(start, fixed)
    encoder_moved = [not torch.equal(a, b) for a, b in zip(start.model.encoder.parameters(),
                                                           last.model.encoder.parameters())]
    assert all(encoder_moved)  # the encoder itself learns from the tasks

    # an adapted GP head is saved with its support and predicts the same after loading
    learner, description = load_learner(outcome.model_dir)
    assert description["learner"]["algorithm"] == "adkf" and description["adapted_state"] == {}
    episode = fixed[0]
    adapted = learner.adapt(episode.support, episode.support_targets)
    expected = learner.predict(adapted, episode.query)
    save_learner(learner, tmp_path / "adapted", adapted=adapted)
    reloaded, reloaded_description = load_learner(tmp_path / "adapted")
    from molprior.meta.learner import Adapted

    again = Adapted({n: p for n, p in reloaded.model.named_parameters()}, state=reloaded_description["adapted_state"])
    torch.testing.assert_close(reloaded.predict(again, episode.query), expected, rtol=0, atol=0)
