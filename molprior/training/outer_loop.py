"""The meta-training module shared by every kind of task (assays and MHC alleles alike): the
outer loop, and validation on fixed episodes of the meta-validation tasks."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

#: Where a module's history travels in its checkpoints (a resumed run carries it on).
HISTORY_KEY = "molprior_history"


class OuterLoopModule(pl.LightningModule):
    """Manual optimisation: each step averages the meta-objectives of a batch of episodes
    (:meth:`episode_loss`, the query loss after the inner loop) and takes one outer step,
    clipped at :attr:`outer_gradient_clip`; each epoch tells the episode stream its number,
    so its draws differ from epoch to epoch but repeat from run to run.

    Validation: ``validation_step`` adapts to each fixed episode and records its metrics with
    :meth:`record_validation`; at the epoch's end every metric is averaged per task, then over
    tasks (each task weighs the same, as in the protocols' tables; a metric an episode cannot
    have, NaN, is left out), logged as ``val_<metric>``, and appended to :attr:`history`, the
    validation before any step (Lightning's sanity check) first as epoch -1.
    :attr:`selection_metric` is the one checkpoints are chosen and learning rates decayed on.

    Subclasses define ``episode_loss(episode) -> Tensor``, ``validation_step`` and
    ``configure_optimizers``.
    """

    outer_gradient_clip: float = 0.0
    #: The validation metric checkpoints are chosen on (higher is better).
    selection_metric: str = "val_roc_auc"

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False  # the outer step is taken in training_step
        self.history: list[dict[str, float]] = []
        self._validation: list[tuple[str, dict[str, float]]] = []
        self._epoch_losses: list[tuple[float, int]] = []  # (loss, episodes) of this epoch's steps

    def training_step(self, batch: list, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = torch.stack([self.episode_loss(e) for e in batch]).mean()
        self.manual_backward(loss)
        if self.outer_gradient_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.outer_gradient_clip, gradient_clip_algorithm="norm")
        optimizer.step()
        self.log("train_loss", loss, batch_size=len(batch), on_step=False, on_epoch=True, prog_bar=True)
        self._epoch_losses.append((float(loss.detach()), len(batch)))
        return loss

    def on_train_epoch_start(self) -> None:
        self._epoch_losses = []
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if dataset is not None and hasattr(dataset, "epoch"):
            dataset.epoch = self.current_epoch

    def record_validation(self, task: str, **metrics: float) -> None:
        """One validation episode of ``task``: its metrics (without the ``val_`` prefix)."""
        self._validation.append((task, metrics))

    def validation_metrics(self) -> dict[str, float]:
        """The recorded episodes' metrics, mean per task then over tasks (and forget them)."""
        rows, self._validation = self._validation, []
        tasks = sorted({task for task, _ in rows})
        names = list(dict.fromkeys(name for _, metrics in rows for name in metrics))
        return {f"val_{name}": float(np.nanmean([np.nanmean([m[name] for t, m in rows if t == task and name in m])
                                                 for task in tasks])) for name in names}

    def on_validation_epoch_end(self) -> None:
        if not self._validation:
            return
        values = self.validation_metrics()
        if self.trainer.sanity_checking:  # the full validation before any meta-step: the starting point
            if not self.history:  # (a resumed run has it from its checkpoint)
                self.history.append({"epoch": -1, "step": 0, **values})
            return
        self.log_dict(values, prog_bar=True)
        scheduler = self.lr_schedulers()
        if scheduler is not None:  # manual optimisation: the module steps its scheduler itself
            scheduler.step(values[self.selection_metric])
        # this epoch's own mean loss (Lightning reduces its train_loss only after the validation)
        losses = self._epoch_losses
        train = sum(loss * n for loss, n in losses) / sum(n for _, n in losses) if losses else None
        self.history.append({"epoch": self.current_epoch, "step": self.global_step, **values,
                             **({"train_loss": train} if train is not None else {})})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[HISTORY_KEY] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get(HISTORY_KEY, []))
