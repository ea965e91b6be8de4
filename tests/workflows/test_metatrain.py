"""A tiny meta-training run on real assays: checkpoint choice, export, MLflow, and that it learns."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
import torch

from molprior.config import MetaTrainConfig
from molprior.data.prepare import prepare_table
from molprior.files import ChecksumError, write_manifest
from molprior.meta.learner import FewShotLearner
from molprior.serialization import ModelFormatError, load_learner
from molprior.training.metatrain_data import TrainingEpisodes
from molprior.workflows.metatrain import build_bank, run_metatraining, split_tasks
from _fewshot import TEST, TINY, TRAIN, VAL, long_file


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return prepare_table(long_file(tmp_path_factory.mktemp("metatrain") / "assays.csv"))


def _config(path, **extra) -> MetaTrainConfig:
    return MetaTrainConfig(**{**TINY, "input": str(path), "val_assays": VAL, "test_assays": TEST, **extra})


def _mean_query_loss(learner: FewShotLearner, episodes) -> float:
    losses = []
    for e in episodes:
        adapted = learner.adapt(e.support, e.support_targets)
        logits = learner.predict(adapted, e.query)
        losses.append(torch.nn.functional.binary_cross_entropy_with_logits(logits, e.query_targets).item())
    return float(np.mean(losses))


def test_split_leaves_test_assays_out_and_needs_validation(prepared):
    train, val = split_tasks(prepared, _config("x"))
    assert [t.assay for t in train] == TRAIN and [t.assay for t in val] == VAL
    with pytest.raises(ValueError, match="both in meta-training and held out"):
        split_tasks(prepared, _config("x", train_assays=TRAIN + TEST))
    with pytest.raises(ValueError, match="val_assays"):
        split_tasks(prepared, _config("x", val_assays=[]))


def test_meta_training_learns_exports_and_is_tracked(prepared, tmp_path):
    config = _config("x", learner={"maml": {"first_order": True, "inner_steps": 2, "inner_lr": 0.05}},
                     optim={"meta_lr": 3e-3}, trainer={"max_epochs": 4, "patience": 10})
    train, val = split_tasks(prepared, config)
    bank = build_bank(train + val)
    fixed = [TrainingEpisodes(train, bank, [16], 32, "classification", 6, seed=99)[i] for i in range(6)]

    torch.manual_seed(0)
    outcome = run_metatraining(config, tmp_path / "run", prepared=prepared, bank=bank, progress=False)
    assert outcome.metrics["steps_trained"] == 20
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[0]["epoch"] == -1 and len(history) == 5  # the untrained start, then every epoch
    best = max(h["val_delta_auprc"] for h in history)  # the start is a candidate too
    assert outcome.metrics["best_val_delta_auprc"] == pytest.approx(best, abs=1e-6)
    chosen = [h["step"] for h in history if h["val_delta_auprc"] == pytest.approx(best, abs=1e-6)]
    assert outcome.metrics["selected_step"] in chosen

    learner, description = load_learner(outcome.model_dir)
    assert description["metadata"]["train_assays"] == TRAIN and description["metadata"]["test_assays_excluded"] == TEST
    assert not description["adapted"] and description["learner"]["maml"]["first_order"]
    # after meta-training, adapting the model fits the training tasks' queries better than adapting its start
    from molprior.training.metatrain_module import MetaTrainModule

    torch.manual_seed(0)
    start = MetaTrainModule(TINY["encoder"], TINY["head"], config.learner.to_dict()).learner.eval()
    last = MetaTrainModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt",
                                                weights_only=False).learner.eval()
    assert _mean_query_loss(last, fixed) < _mean_query_loss(start, fixed)

    client = mlflow.MlflowClient()
    run = client.get_run(outcome.run_id)
    assert "val_delta_auprc" in run.data.metrics and run.data.metrics["best_val_delta_auprc"] == pytest.approx(best)
    assert {f.path for f in client.list_artifacts(outcome.run_id, "model")} >= {"model/model.json", "model/model.safetensors"}
    assert mlflow.get_logged_model(outcome.model_id).tags["molprior.stage"] == "metatrain"
    # the run's settings, every default included, read back into the same configuration
    from molprior.config import MetaTrainConfig, load_yaml_config

    assert load_yaml_config(MetaTrainConfig, tmp_path / "run" / "settings.yaml") == config
    assert "settings.yaml" in {f.path for f in client.list_artifacts(outcome.run_id)}


def test_a_model_from_another_featuriser_is_refused(prepared, tmp_path):
    outcome = run_metatraining(_config("x", trainer={"max_epochs": 1}), tmp_path / "run", prepared=prepared,
                               progress=False)
    description = outcome.model_dir / "model.json"
    data = json.loads(description.read_text())
    data["featurizer_version"] = "ogb-0"
    description.write_text(json.dumps(data))
    with pytest.raises(ChecksumError, match="model.json"):  # an edited file is caught first
        load_learner(outcome.model_dir)
    write_manifest(outcome.model_dir)  # a consistent model, only from another featuriser
    with pytest.raises(ModelFormatError, match="ogb-0"):
        load_learner(outcome.model_dir)


def test_a_killed_meta_training_resumes_in_the_same_run(prepared, tmp_path):
    """A run cut short (as by kill -9: the first epoch's checkpoints are all it leaves)
    continues with --resume from its newest checkpoint, in the same MLflow run, its history
    carried on; without --resume a new run starts from scratch."""
    out = tmp_path / "run"
    first = run_metatraining(_config("x", trainer={"max_epochs": 1, "patience": 10}), out, prepared=prepared,
                             progress=False)
    assert (out / "checkpoints" / "last.ckpt").exists()
    client = mlflow.MlflowClient()
    client.set_terminated(first.run_id, status="KILLED")  # what the next command marks a killed run
    resumed = run_metatraining(_config("x", trainer={"max_epochs": 3, "patience": 10}), out, prepared=prepared,
                               progress=False, resume=True)
    assert resumed.run_id == first.run_id and resumed.metrics["steps_trained"] == 15
    history = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in history] == [-1, 0, 1, 2]
    assert client.get_run(first.run_id).info.status == "FINISHED"
    fresh = run_metatraining(_config("x", trainer={"max_epochs": 1}), out, prepared=prepared, progress=False)
    assert fresh.run_id != first.run_id and fresh.metrics["steps_trained"] == 5


def test_learning_rates_decay_when_validation_stops_improving(prepared, tmp_path):
    """With lr_decay_patience 1, a run whose validation cannot improve (a learning rate too small
    to change its scores) halves its rates after its second validation without gain, and the
    scheduler's state is in the checkpoint for --resume.  (Rates above 1e-8: PyTorch skips
    smaller changes.)"""
    config = _config("x", optim={"meta_lr": 1e-7, "encoder_lr_scale": 1.0, "lr_decay_patience": 1,
                                 "lr_decay_factor": 0.5},
                     trainer={"max_epochs": 3, "patience": 10})
    run_metatraining(config, tmp_path / "run", prepared=prepared, progress=False)
    checkpoint = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=False)
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len({h["val_delta_auprc"] for h in history}) == 1  # the premise: validation never improved
    rates = [group["lr"] for group in checkpoint["optimizer_states"][0]["param_groups"]]
    assert rates == pytest.approx([0.5e-7, 0.5e-7], rel=1e-12)  # epoch 0 best, epochs 1 and 2 no better: one halving
    assert len(checkpoint["lr_schedulers"]) == 1
