"""The LightningModule that meta-trains the allele model across alleles (MAML family).

Each step takes a meta-batch of allele episodes, averages their query losses after the inner
loop and takes one outer Adam step.  Validation adapts to fixed episodes of the meta-validation
alleles and logs the mean ROC-AUC at 500 nM (``val_roc_auc``, what checkpoints are chosen on).
"""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from molprior.evaluation.metrics import roc_auc
from molprior.meta.allele_learner import AlleleLearner
from molprior.meta.maml import MAMLConfig
from molprior.models.allele_model import AlleleModelConfig
from molprior.training.allele_data import AlleleEpisode


class AlleleMetaModule(pl.LightningModule):
    """Meta-trains an :class:`AlleleLearner`."""

    def __init__(self, input_dim: int, model: dict | None = None, maml: dict | None = None,
                 meta_lr: float = 1e-3, weight_decay: float = 0.0, gradient_clip: float = 1.0):
        super().__init__()
        self.save_hyperparameters()
        self.automatic_optimization = False
        self.learner = AlleleLearner(input_dim, AlleleModelConfig(**(model or {})), MAMLConfig(**(maml or {})))
        self.history: list[dict[str, float]] = []
        self._validation: list[tuple[str, float]] = []

    def training_step(self, batch: list[AlleleEpisode], batch_idx: int) -> torch.Tensor:
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = torch.stack([self.learner.meta_loss(e.support, e.support_scores, e.support_relations, e.query,
                                                   e.query_scores, e.query_relations) for e in batch]).mean()
        self.manual_backward(loss)
        if self.hparams.gradient_clip:
            self.clip_gradients(optimizer, gradient_clip_val=self.hparams.gradient_clip, gradient_clip_algorithm="norm")
        optimizer.step()
        self.log("train_loss", loss, batch_size=len(batch), on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def on_train_epoch_start(self) -> None:
        dataset = getattr(self.trainer.train_dataloader, "dataset", None)
        if dataset is not None and hasattr(dataset, "epoch"):
            dataset.epoch = self.current_epoch

    def validation_step(self, episode: AlleleEpisode, batch_idx: int) -> None:
        params = self.learner.adapt(episode.support, episode.support_scores, episode.support_relations)
        with torch.no_grad():
            scores = self.learner.predict(params, episode.query).cpu().numpy()
        known = ~np.isnan(episode.query_labels)
        self._validation.append((episode.allele, roc_auc(episode.query_labels[known], scores[known])))

    def on_validation_epoch_end(self) -> None:
        if not self._validation:
            return
        rows, self._validation = self._validation, []
        alleles = sorted({a for a, _ in rows})
        value = float(np.nanmean([np.nanmean([v for a2, v in rows if a2 == a]) for a in alleles]))
        if self.trainer.sanity_checking:
            self.history.append({"epoch": -1, "step": 0, "val_roc_auc": value})
            return
        self.log("val_roc_auc", value, prog_bar=True)
        train = self.trainer.callback_metrics.get("train_loss")
        self.history.append({"epoch": self.current_epoch, "step": self.global_step, "val_roc_auc": value,
                             **({"train_loss": float(train)} if train is not None else {})})

    def configure_optimizers(self):
        return torch.optim.Adam(self.learner.parameters(), lr=self.hparams.meta_lr,
                                weight_decay=self.hparams.weight_decay)
