"""Lightning's MLflow logger for a run a molprior command started (molprior.tracking.run_logger):
a fit logs into the command's run and leaves it RUNNING, whether it succeeds or fails, for the
command to end once its outputs are logged."""

from __future__ import annotations

import mlflow
import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from molprior.chem.fingerprints import ecfp
from molprior.tracking import runs
from molprior.tracking.run_logger import CommandRunLogger


@pytest.fixture
def store(tmp_path, monkeypatch) -> str:
    """A fresh sqlite MLflow store under ``tmp_path`` (its artifacts beside it)."""
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="module")
def potencies(moleculeace_dir) -> DataLoader:
    """ECFP4 bits and pEC50 of 64 real molecules, in batches of 16."""
    frame = pd.read_csv(moleculeace_dir / "CHEMBL2047_EC50.csv").head(64)
    bits = torch.from_numpy(ecfp(frame["smiles"].tolist()).astype(np.float32))
    return DataLoader(TensorDataset(bits, torch.from_numpy(frame["y"].to_numpy(np.float32))), batch_size=16)


class PotencyRegression(pl.LightningModule):
    """pEC50 as a linear function of ECFP4 bits; logs its training loss per epoch, and raises
    in epoch ``fail_in_epoch`` (a training that crashes)."""

    def __init__(self, fail_in_epoch: int | None = None):
        super().__init__()
        self.linear = torch.nn.Linear(2048, 1)
        self.fail_in_epoch = fail_in_epoch

    def training_step(self, batch, batch_index):
        if self.current_epoch == self.fail_in_epoch:
            raise RuntimeError("the training crashed")
        bits, potency = batch
        loss = torch.nn.functional.mse_loss(self.linear(bits).squeeze(-1), potency)
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=1e-3)


def _trainer(run_id: str) -> pl.Trainer:
    logger = runs.lightning_logger(run_id)
    assert isinstance(logger, CommandRunLogger)  # the logger of a run a command started
    return pl.Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=1, enable_checkpointing=False,
                      enable_progress_bar=False, enable_model_summary=False, log_every_n_steps=1)


def test_lightning_leaves_the_commands_run_open():
    """Lightning ends its logger's run when fit returns; the command's run must stay RUNNING
    until the command has logged its outputs (a kill then leaves it RUNNING, not FINISHED)."""
    with runs.tracked_run("unit-test") as run:
        logger = runs.lightning_logger(run.info.run_id)
        logger.log_metrics({"loss": 1.0}, step=0)
        logger.finalize("success")
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"
    assert mlflow.get_run(run.info.run_id).data.metrics["loss"] == 1.0


def test_a_fit_logs_into_the_commands_run_and_leaves_it_running(store, potencies):
    with runs.tracked_run("unit-test") as run:
        _trainer(run.info.run_id).fit(PotencyRegression(), potencies)
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"  # the command still has outputs to log
        mlflow.log_metric("exported", 1.0)
    assert mlflow.get_run(run.info.run_id).info.status == "FINISHED"
    losses = mlflow.MlflowClient().get_metric_history(run.info.run_id, "train_loss")
    assert len(losses) == 2 and all(np.isfinite(m.value) for m in losses)  # one per epoch, in the same run
    assert mlflow.get_run(run.info.run_id).data.metrics["exported"] == 1.0
    experiment = mlflow.get_experiment_by_name(runs.DEFAULT_EXPERIMENT).experiment_id
    assert len(mlflow.search_runs([experiment])) == 1  # Lightning started no run of its own


def test_a_failed_fit_leaves_the_run_for_the_command_to_end(store, potencies):
    """Lightning would mark its run FAILED as soon as fit raises; the command decides."""
    with pytest.raises(RuntimeError, match="the training crashed"):
        with runs.tracked_run("unit-test") as run:
            try:
                _trainer(run.info.run_id).fit(PotencyRegression(fail_in_epoch=1), potencies)
            finally:
                assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"  # ended by the command's run
    assert len(mlflow.MlflowClient().get_metric_history(run.info.run_id, "train_loss")) == 1  # epoch 0's
