"""The shared Trainer set-up: a checkpoint at every epoch's end, and the checkpoint a resume
starts from."""

from __future__ import annotations

import os

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from molprior.training.trainer import TrainerConfig, build_trainer, last_checkpoint


class Tiny(pl.LightningModule):
    """A linear regression, recording which checkpoints exist as each epoch starts."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 1)
        self.seen: dict[int, set[str]] = {}

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x), y))

    def on_train_epoch_start(self):
        directory = self.trainer.default_root_dir + "/checkpoints"
        self.seen[self.current_epoch] = set(os.listdir(directory)) if os.path.isdir(directory) else set()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader():
    x = torch.randn(16, 2)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def test_every_epoch_end_leaves_last_ckpt(tmp_path):
    """A run killed in its second epoch must find the first epoch's end to resume from."""
    trainer = build_trainer(TrainerConfig(max_epochs=2, checkpoint_every_n_steps=0), tmp_path, progress_bar=False)
    module = Tiny()
    trainer.fit(module, _loader(), _loader())
    assert "last.ckpt" in module.seen[1]
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint["epoch"] == 1 and checkpoint["global_step"] == 4


def _checkpoint(path, step: int, epoch: int) -> None:
    torch.save({"state_dict": {}, "global_step": step, "epoch": epoch, "loops": {}}, path)


def test_the_newest_usable_checkpoint_is_resumed_from(tmp_path):
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    assert last_checkpoint(tmp_path) is None
    _checkpoint(checkpoints / "best.ckpt", 9, 0)
    assert last_checkpoint(tmp_path) == checkpoints / "best.ckpt"  # all a run killed early may leave
    _checkpoint(checkpoints / "last.ckpt", 18, 1)
    _checkpoint(checkpoints / "step.ckpt", 12, 1)
    os.utime(checkpoints / "step.ckpt")  # written last, but not furthest in training
    assert last_checkpoint(tmp_path) == checkpoints / "last.ckpt"
    _checkpoint(checkpoints / "interrupted.ckpt", 21, 2)
    data = (checkpoints / "interrupted.ckpt").read_bytes()
    (checkpoints / "interrupted.ckpt").write_bytes(data[: len(data) // 2])  # cut short
    assert last_checkpoint(tmp_path) == checkpoints / "last.ckpt"
    (checkpoints / "last.ckpt").write_text("not a checkpoint")
    assert last_checkpoint(tmp_path) == checkpoints / "step.ckpt"


def test_without_a_progress_bar_each_validation_is_logged(tmp_path, caplog):
    """A run writing to a log file shows its progress: one line per epoch's validation, with
    the metric and the best so far, and none for the sanity check."""
    trainer = build_trainer(TrainerConfig(max_epochs=3, checkpoint_every_n_steps=0), tmp_path, progress_bar=False)
    with caplog.at_level("INFO", logger="molprior.training.trainer"):
        trainer.fit(Tiny(), _loader(), _loader())
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("step ")]
    assert [line.split(":")[0] for line in lines] == ["step 2, epoch 0", "step 4, epoch 1", "step 6, epoch 2"]
    losses = [float(line.split("val_loss ")[1].split(" ")[0].rstrip(",")) for line in lines]
    bests = [float(line.split("best val_loss ")[1].split(")")[0]) for line in lines]
    assert bests == pytest.approx([min(losses[:i + 1]) for i in range(3)], abs=1e-4)  # printed to 4 decimals
    assert all(line.endswith("min trained") for line in lines)
