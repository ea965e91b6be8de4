"""The outer loop shared by the meta-training modules (assays and MHC alleles alike)."""

from __future__ import annotations

import pytorch_lightning as pl
import torch


class OuterLoopModule(pl.LightningModule):
    """Manual optimisation: each step averages the meta-objectives of a batch of episodes
    (:meth:`episode_loss`, the query loss after the inner loop) and takes one outer step,
    clipped at :attr:`outer_gradient_clip`; each epoch tells the episode stream its number,
    so its draws differ from epoch to epoch but repeat from run to run.

    Subclasses define ``episode_loss(episode) -> Tensor``.
    """

    outer_gradient_clip: float = 0.0

    def __init__(self) -> None:
        super().__init__()
        self.automatic_optimization = False  # the outer step is taken in training_step

    def training_step(self, batch: list, batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = torch.stack([self.episode_loss(e) for e in batch]).mean()
        self.manual_backward(loss)
        if self.outer_gradient_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.outer_gradient_clip, gradient_clip_algorithm="norm")
        optimizer.step()
        self.log("train_loss", loss, batch_size=len(batch), on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if dataset is not None and hasattr(dataset, "epoch"):
            dataset.epoch = self.current_epoch
