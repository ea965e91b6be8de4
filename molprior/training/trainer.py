"""The Lightning Trainer set-up shared by the training stages."""

from __future__ import annotations

import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import (Callback, EarlyStopping, ModelCheckpoint, OnExceptionCheckpoint, Timer,
                                         TQDMProgressBar)


log = logging.getLogger(__name__)
CHECKPOINT_NAMES = ("last.ckpt", "step.ckpt", "interrupted.ckpt", "best.ckpt")

# With OnExceptionCheckpoint present Lightning looks for a "last" checkpoint on every fresh
# fit and says so; molprior decides about resuming itself (see ``clear_checkpoints``).
warnings.filterwarnings("ignore", message=r".*ckpt_path=None\)` was called without a model")
warnings.filterwarnings("ignore", message=r".*there is no last checkpoint available")
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\)` is deprecated")


class ValidationLog(Callback):
    """One log line per validation (step, epoch, the ``val_`` metrics, the best ``monitor`` so
    far, minutes trained), so that a run writing to a log file rather than a terminal shows its
    progress; sanity checks are not logged.  A resumed run's best starts from its checkpoint's."""

    def __init__(self, monitor: str, mode: str):
        self.monitor, self.mode = monitor, mode
        self.best: float | None = None
        self.started = 0.0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.monotonic()
        restored = getattr(trainer.checkpoint_callback, "best_model_score", None)
        self.best = float(restored) if restored is not None else None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {name: float(value) for name, value in trainer.callback_metrics.items() if name.startswith("val_")}
        if self.monitor in metrics:
            value = metrics[self.monitor]
            better = max if self.mode == "max" else min
            self.best = value if self.best is None else better(self.best, value)
        timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
        seconds = timer.time_elapsed("train") if timer is not None else time.monotonic() - self.started
        shown = ", ".join(f"{name} {value:.4f}" for name, value in sorted(metrics.items()))
        best = f" (best {self.monitor} {self.best:.4f})" if self.best is not None else ""
        log.info("step %d, epoch %d: %s%s, %.1f min trained", trainer.global_step, trainer.current_epoch, shown, best,
                 seconds / 60)


@dataclass
class TrainerConfig:
    """Hardware and stopping settings (Lightning's own flag names).

    Several devices or nodes (``devices: 4``, ``num_nodes: 2``, ``strategy: ddp``) run Lightning's
    own ``DDPStrategy``: its launcher re-runs the command once per further device on each node
    (or torchrun/SLURM start the processes), a ``DistributedSampler`` gives each process its
    share of the batches, and the process group talks NCCL on CUDA and gloo on CPU (Lightning's
    default for the device, ``torch.distributed.Backend.default_device_backend_map``).  Whatever
    only global rank 0 must do (the MLflow run, exported files) is the caller's to guard with
    ``trainer.is_global_zero``, which is known as soon as the Trainer exists.
    """

    max_epochs: int = 10
    accelerator: str = "cpu"  # "gpu"/"cuda" or "auto" for GPUs
    devices: int | str = 1  # per node; several CPU devices mean several CPU processes under ddp
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp" for several GPUs, CPU processes or nodes (auto picks it for devices > 1)
    precision: str = "32-true"
    patience: int = 3  # epochs without val_loss improvement before stopping
    checkpoint_every_n_steps: int = 500  # also mid-epoch, so a killed run loses little (0: only at epoch ends)
    gradient_clip_val: float | None = 1.0  # None with manual optimisation (the module clips)
    log_every_n_steps: int = 20
    max_time: str | None = None  # wall-clock limit "DD:HH:MM:SS"; training stops cleanly there


def build_trainer(config: TrainerConfig, output_dir: str | Path, logger=None, progress_bar: bool = True,
                  extra_callbacks: list | None = None, monitor: str = "val_loss", mode: str = "min",
                  inference_mode: bool = True, sanity_val_steps: int = 2) -> pl.Trainer:
    """A Trainer that checkpoints into ``output_dir/checkpoints`` (``last.ckpt`` for resuming,
    the best on ``monitor``) and stops early when ``monitor`` stops improving.
    ``inference_mode=False`` lets validation take gradients (meta-learning adapts there);
    ``sanity_val_steps=-1`` validates fully before training (the untrained baseline)."""
    checkpoints = Path(output_dir) / "checkpoints"
    callbacks = [
        ModelCheckpoint(dirpath=checkpoints, filename="best", monitor=monitor, mode=mode, save_top_k=1,
                        enable_version_counter=False),
        # last.ckpt at the end of every training epoch; step.ckpt every few hundred steps within one.
        # (Not save_last with save_top_k=0: Lightning then writes last.ckpt only when training ends.)
        ModelCheckpoint(dirpath=checkpoints, filename="last", save_top_k=1, every_n_epochs=1,
                        save_on_train_epoch_end=True, enable_version_counter=False),
        *([ModelCheckpoint(dirpath=checkpoints, filename="step", every_n_train_steps=config.checkpoint_every_n_steps,
                           save_top_k=1, enable_version_counter=False)] if config.checkpoint_every_n_steps else []),
        OnExceptionCheckpoint(dirpath=checkpoints, filename="interrupted"),
        EarlyStopping(monitor=monitor, mode=mode, patience=config.patience),
        *(extra_callbacks or []),
    ]
    # a progress bar on a terminal; otherwise (a log file, a pipeline) a line per validation
    callbacks.append(TQDMProgressBar(refresh_rate=10) if progress_bar else ValidationLog(monitor, mode))
    return pl.Trainer(
        max_epochs=config.max_epochs, max_time=config.max_time, accelerator=config.accelerator, devices=config.devices,
        num_nodes=config.num_nodes, strategy=config.strategy, precision=config.precision,
        gradient_clip_val=config.gradient_clip_val, log_every_n_steps=config.log_every_n_steps,
        callbacks=callbacks, logger=logger if logger is not None else False, enable_progress_bar=progress_bar,
        enable_model_summary=False, default_root_dir=str(output_dir), inference_mode=inference_mode,
        num_sanity_val_steps=sanity_val_steps,
    )


def clear_checkpoints(output_dir: str | Path) -> None:
    """Remove a previous run's checkpoints before a fresh (not resumed) run, so that nothing
    of it is picked up (Lightning would otherwise resume from an old ``interrupted.ckpt``)."""
    checkpoints = Path(output_dir) / "checkpoints"
    old = [checkpoints / name for name in CHECKPOINT_NAMES if (checkpoints / name).exists()]
    if old:
        log.warning("starting afresh in %s: replacing the checkpoints of the previous run", output_dir)
    for path in old:
        path.unlink()


def last_checkpoint(output_dir: str | Path) -> Path | None:
    """The newest usable checkpoint a previous run left, if any, of ``last.ckpt`` (end of an
    epoch), ``step.ckpt`` (within an epoch), ``interrupted.ckpt`` (saved on Ctrl-C or an
    exception) and ``best.ckpt`` (at the best validation so far: all that a run killed between
    its first validation and the end of that epoch leaves).  Newest means furthest in training
    (global step, then epoch), then most recently written; a file that does not load as a
    Lightning checkpoint (truncated, overwritten) is passed over with a warning."""
    checkpoints = Path(output_dir) / "checkpoints"
    found = []
    for path in (checkpoints / name for name in CHECKPOINT_NAMES):
        if not path.exists():
            continue
        progress = _progress(path)
        if progress is None:
            log.warning("%s is not a usable checkpoint: not resuming from it", path)
            continue
        found.append((progress, path.stat().st_mtime, path))
    return max(found)[2] if found else None


def _progress(path: Path) -> tuple[int, int] | None:
    """(global step, epoch) a Lightning checkpoint was saved at; ``None`` if it does not load."""
    import torch

    try:  # memory-mapped: the tensors are not read
        checkpoint = torch.load(path, map_location="cpu", weights_only=False, mmap=True)
    except Exception:  # noqa: BLE001 - whatever a damaged file raises, it is not resumable
        return None
    if not isinstance(checkpoint, dict) or not {"state_dict", "global_step", "loops"} <= checkpoint.keys():
        return None
    return int(checkpoint["global_step"]), int(checkpoint.get("epoch", 0))
