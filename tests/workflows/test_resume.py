"""Where a training in an output directory starts: afresh (the old checkpoints removed), or
with ``--resume`` from its newest usable checkpoint in the MLflow run it recorded there; and
never under a run that another live process still holds."""

from __future__ import annotations

import json
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from molprior.config import PretrainConfig
from molprior.tracking import runs
from molprior.training.trainer import CHECKPOINT_NAMES, TrainerConfig, build_trainer
from molprior.workflows.pretrain import run_pretraining
from molprior.workflows.resume import resume_point

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """This test's MLflow store, under its own directory."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    yield uri
    mlflow.set_tracking_uri(None)


class Regression(pl.LightningModule):
    """A linear regression that fails (as a crash would) before optimiser step ``fail_at``,
    noting its weights when training starts."""

    def __init__(self, fail_at: int | None = None):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(2, 1)
        self.fail_at, self.started_from = fail_at, None

    def training_step(self, batch, batch_idx):
        if self.global_step == self.fail_at:
            raise RuntimeError("crashed")
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def on_train_start(self):
        self.started_from = {k: v.detach().clone() for k, v in self.state_dict().items()}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader() -> DataLoader:
    x = torch.randn(16, 2, generator=torch.Generator().manual_seed(0))
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)  # 2 steps an epoch


@dataclass
class Training:
    run_id: str
    checkpoint: Path | None  # where it started from
    steps: int  # optimiser steps at its end, those before a resume included
    module: Regression


def _train(out: Path, epochs: int, resume: bool = False, fail_at: int | None = None) -> Training:
    """A training as the workflows run one: where to start, then a tracked run recorded in ``out``."""
    checkpoint, previous = resume_point(out, resume)
    module = Regression(fail_at)
    with runs.tracked_run("tiny-training", run_id=previous) as run:
        runs.record_run(out, run.info.run_id)
        trainer = build_trainer(TrainerConfig(max_epochs=epochs, patience=10, checkpoint_every_n_steps=0), out,
                                progress_bar=False)
        trainer.fit(module, _loader(), _loader(), ckpt_path=str(checkpoint) if checkpoint else None)
    return Training(run.info.run_id, checkpoint, trainer.global_step, module)


def _checkpoints(out: Path) -> set[str]:
    return {p.name for p in (out / "checkpoints").glob("*.ckpt")}


def test_an_interrupted_training_continues_from_its_newest_checkpoint_in_its_own_run(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="crashed"):
        _train(out, epochs=2, fail_at=3)  # in the second epoch, after 3 steps
    recorded = runs.recorded_run(out)
    assert mlflow.get_run(recorded).info.status == "FAILED"
    assert {"last.ckpt", "interrupted.ckpt"} <= _checkpoints(out)
    interrupted = torch.load(out / "checkpoints" / "interrupted.ckpt", weights_only=False)
    assert interrupted["global_step"] == 3  # further than last.ckpt (the first epoch's end, step 2)

    assert resume_point(out, resume=True) == (out / "checkpoints" / "interrupted.ckpt", recorded)
    resumed = _train(out, epochs=2, resume=True)
    assert resumed.run_id == recorded and runs.recorded_run(out) == recorded  # the same MLflow run
    assert mlflow.get_run(recorded).info.status == "FINISHED"
    assert resumed.checkpoint == out / "checkpoints" / "interrupted.ckpt"
    for name, value in resumed.module.started_from.items():  # training went on from the interrupted weights
        assert torch.equal(value, interrupted["state_dict"][name]), name
    assert resumed.steps == 4  # the two epochs' steps in all, not four more


def test_a_fresh_start_removes_the_old_checkpoints_and_starts_a_new_run(tmp_path):
    out = tmp_path / "run"
    first = _train(out, epochs=1)
    (out / "checkpoints" / "last.ckpt").rename(out / "checkpoints" / "interrupted.ckpt")  # as Ctrl-C leaves it
    assert _checkpoints(out) == {"best.ckpt", "interrupted.ckpt"}
    assert resume_point(out, resume=False) == (None, None)
    assert not _checkpoints(out) & set(CHECKPOINT_NAMES)  # Lightning would otherwise pick them up
    fresh = _train(out, epochs=1)
    assert fresh.checkpoint is None and fresh.run_id != first.run_id
    assert resume_point(tmp_path / "new" / "dir", resume=False) == (None, None)  # made if missing
    assert (tmp_path / "new" / "dir").is_dir()


def test_resuming_without_a_usable_checkpoint_starts_afresh(tmp_path, caplog):
    out = tmp_path / "run"
    _train(out, epochs=1)
    for name in _checkpoints(out):
        (out / "checkpoints" / name).write_bytes(b"cut short")  # nothing loads
    with caplog.at_level("WARNING", logger="molprior.workflows.resume"):
        assert resume_point(out, resume=True) == (None, None)  # a new run, not the recorded one
    assert any("no usable checkpoint" in r.getMessage() for r in caplog.records)
    assert not _checkpoints(out)


def test_a_checkpoint_whose_run_is_gone_continues_in_a_new_run(tmp_path):
    out = tmp_path / "run"
    first = _train(out, epochs=1)
    assert resume_point(out, resume=True) == (out / "checkpoints" / "last.ckpt", first.run_id)
    mlflow.delete_run(first.run_id)
    assert resume_point(out, resume=True) == (out / "checkpoints" / "last.ckpt", None)
    resumed = _train(out, epochs=2, resume=True)
    assert resumed.run_id != first.run_id and runs.recorded_run(out) == resumed.run_id
    assert resumed.steps == 4  # from the checkpoint all the same


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.csv"
    pd.read_csv(ROOT / "data" / "moses" / "moses_train_50k.csv.gz").head(300).to_csv(path, index=False)
    return path


def test_a_run_alive_in_another_process_is_neither_resumed_nor_cleared(corpus, tmp_path):
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "checkpoints" / "interrupted.ckpt").write_bytes(b"another process's checkpoint")
    other = subprocess.Popen(["sleep", "60"])
    try:
        mlflow.set_tracking_uri(runs.tracking_uri())
        runs.ensure_experiment(runs.DEFAULT_EXPERIMENT)
        experiment = mlflow.get_experiment_by_name(runs.DEFAULT_EXPERIMENT).experiment_id
        tags = {runs.HOST_TAG: socket.gethostname(), runs.PID_TAG: str(other.pid)}
        live = mlflow.MlflowClient().create_run(experiment, tags=tags).info.run_id
        (out / "mlflow_run.json").write_text(json.dumps({"run_id": live}))
        config = PretrainConfig(corpus=str(corpus), batch_size=32, encoder={"hidden_dim": 32, "num_layers": 2},
                                decoder={"latent_dim": 16, "hidden_dim": 64, "embedding_dim": 16},
                                trainer={"max_epochs": 1})
        for resume in (False, True):
            with pytest.raises(runs.RunInUseError, match="still running"):
                run_pretraining(config, out, resume=resume, progress=False, cache_dir=tmp_path / "cache")
            with pytest.raises(runs.RunInUseError, match="still running"):
                resume_point(out, resume)
        assert (out / "checkpoints" / "interrupted.ckpt").read_bytes() == b"another process's checkpoint"
        assert mlflow.get_run(live).info.status == "RUNNING"
    finally:
        other.kill()
        other.wait()
