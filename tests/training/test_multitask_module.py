"""Multitask training on 20 real FS-Mol training tasks: learning, export, and the few-shot
model it leaves as the start of episodic meta-training (its batches: test_multitask_data.py)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.config import ADKF_HEAD, ADKF_LEARNER, MetaTrainConfig
from molprior.data.prepare import prepare_table
from molprior.serialization import load_learner, read_json_object
from molprior.training.multitask_data import MultitaskBatches
from molprior.training.multitask_module import MultitaskModule
from molprior.workflows.metatrain import build_bank, run_metatraining, split_tasks, start_module

FSMOL = Path(__file__).resolve().parents[2] / "data" / "fsmol" / "fsmol.csv.gz"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """20 FS-Mol training tasks of 48 to 80 molecules and two of its valid tasks."""
    table = pd.read_csv(FSMOL, keep_default_na=False)
    sizes = table.groupby("assay", sort=False).size()
    train = [a for a in dict.fromkeys(table.loc[table["split"] == "train", "assay"]) if 48 <= sizes[a] <= 80][:20]
    valid = list(dict.fromkeys(table.loc[table["split"] == "valid", "assay"]))[:2]
    subset = table[table["assay"].isin(train + valid)].groupby("assay", sort=False).head(80)
    path = tmp_path_factory.mktemp("fsmol") / "fsmol_subset.csv"
    subset.to_csv(path, index=False)
    return prepare_table(path)


@pytest.fixture(scope="module")
def tasks_and_bank(prepared):
    train, val = split_tasks(prepared, _config())
    return train, val, build_bank(train + val)


def _config(**extra) -> MetaTrainConfig:
    return MetaTrainConfig(**{
        "input": "fsmol_subset.csv", "prior": "random", "val_assays": ["split:valid"], "test_assays": [],
        "encoder": {"hidden_dim": 32, "num_layers": 2}, "head": {**ADKF_HEAD, "hidden_dim": 64},
        "learner": {**ADKF_LEARNER, "gp": {"fit_steps": 10}}, "optim": {"meta_lr": 3e-3, "encoder_lr_scale": 1.0},
        "objective": "multitask", "multitask": {"batch_size": 64, "value_weight": 1.0},
        "steps_per_epoch": 10, "val_draws": 2, "trainer": {"max_epochs": 3, "patience": 10}, **extra})


def test_the_multitask_config_is_checked():
    with pytest.raises(ValueError, match="unknown objective 'multi'"):
        MetaTrainConfig(objective="multi")
    with pytest.raises(ValueError, match="unknown MultitaskConfig keys"):
        MetaTrainConfig(objective="multitask", multitask={"batch": 3})


def _loss(module: MultitaskModule, batches) -> float:
    with torch.no_grad():
        return float(np.mean([float(module.episode_loss(b)) for b in batches]))


def test_multitask_training_learns_exports_a_few_shot_model_and_starts_meta_training(prepared, tasks_and_bank,
                                                                                      tmp_path):
    train, val, bank = tasks_and_bank
    config = _config()
    fixed = [MultitaskBatches(train, bank, batch_size=64, length=4, seed=99)[i] for i in range(4)]
    outcome = run_metatraining(config, tmp_path / "run", prepared=prepared, bank=bank, progress=False)
    assert outcome.metrics["steps_trained"] == 30

    torch.manual_seed(config.seed)
    start = MultitaskModule(asdict(config.encoder), asdict(config.head), config.learner.to_dict(), num_tasks=20,
                            multitask=asdict(config.multitask))
    last = MultitaskModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    assert last.label_outputs.out_features == 20 and last.value_outputs is not None
    assert _loss(last.eval(), fixed) < _loss(start.eval(), fixed) - 0.05

    # the export is a few-shot model (the GP head adapts on the trained features), without the per-assay outputs
    learner, description = load_learner(outcome.model_dir)
    assert description["learner"]["algorithm"] == "adkf"
    assert not [k for k in learner.state_dict() if "outputs" in k]
    assert read_json_object(outcome.model_dir / "model.json")["metadata"]["config"]["objective"] == "multitask"
    task = val[0]
    rows = bank.indices(task.inputs)
    positives, negatives = np.flatnonzero(task.labels == 1)[:4], np.flatnonzero(task.labels == 0)[:4]
    support = np.concatenate([positives, negatives])
    adapted = learner.adapt(bank.batch(rows[support]), torch.as_tensor(task.labels[support], dtype=torch.float32))
    scores = learner.predict(adapted, bank.batch(rows))
    assert scores.shape == (len(task.inputs),) and torch.isfinite(scores).all()

    # episodic meta-training can start from it: encoder and head as exported
    episodic, start = start_module(_config(objective="episodic", prior=str(outcome.output_dir)), num_tasks=20)
    assert start.source == f"few-shot model at {outcome.output_dir}"
    assert start.lineage == {"mlflow_run_id": outcome.run_id, "prior": "random initialisation", "objective": "multitask",
                             "steps_trained": 30, "best_val_delta_auprc": outcome.metrics["best_val_delta_auprc"]}
    for name, value in learner.model.state_dict().items():
        assert torch.equal(episodic.learner.model.state_dict()[name], value), name
    from molprior.data import leakage

    assert np.array_equal(start.seen, leakage.load_seen(outcome.model_dir)) and len(start.seen) > 1000
    # meta-trained from it on half the tasks, the model still records every molecule its start saw
    second = run_metatraining(_config(objective="episodic", prior=str(outcome.output_dir),
                                      train_assays=[t.assay for t in train[:10]], support_sizes=[16], query_size=32,
                                      trainer={"max_epochs": 1, "patience": 10}),
                              tmp_path / "second", prepared=prepared, bank=bank, progress=False)
    metadata = read_json_object(second.model_dir / "model.json")["metadata"]
    assert metadata["prior_lineage"]["objective"] == "multitask" and len(metadata["train_assays"]) == 10
    assert leakage.seen_mask(train[15].inputs, leakage.load_seen(second.model_dir)).all()
    with pytest.raises(ValueError, match="is not the head configured"):
        start_module(_config(objective="episodic", prior=str(outcome.output_dir),
                             head={**ADKF_HEAD, "hidden_dim": 32}), num_tasks=20)
