"""The LightningModule that meta-trains the allele model across alleles (MAML family).

Each step takes a meta-batch of allele episodes, averages their query losses after the inner
loop and takes one outer Adam step.  Validation adapts to fixed episodes of the meta-validation
alleles and logs the mean ROC-AUC at 500 nM (``val_roc_auc``, what checkpoints are chosen on).
"""

from __future__ import annotations

import numpy as np
import torch

from molprior.metrics.classification import roc_auc
from molprior.meta.allele_learner import AFFINITY, allele_learner
from molprior.meta.maml import MAMLConfig
from molprior.models.allele_model import AlleleModelConfig
from molprior.training.allele_data import AlleleEpisode
from molprior.training.outer_loop import OuterLoopModule


class AlleleMetaModule(OuterLoopModule):
    """Meta-trains the allele learner (:func:`~molprior.meta.allele_learner.allele_learner`)."""

    selection_metric = "val_roc_auc"

    def __init__(self, input_dim: int, model: dict | None = None, maml: dict | None = None,
                 meta_lr: float = 1e-3, weight_decay: float = 0.0, gradient_clip: float = 1.0):
        super().__init__()
        self.save_hyperparameters()
        self.learner = allele_learner(input_dim, AlleleModelConfig(**(model or {})), MAMLConfig(**(maml or {})))

    @property
    def outer_gradient_clip(self) -> float:
        return self.hparams.gradient_clip

    def episode_loss(self, e: AlleleEpisode) -> torch.Tensor:
        return self.learner.meta_loss(e.support, e.support_scores, e.query, e.query_scores, e.support_relations,
                                      e.query_relations)

    def validation_step(self, episode: AlleleEpisode, batch_idx: int) -> None:
        adapted = self.learner.adapt(episode.support, episode.support_scores, episode.support_relations)
        scores = AFFINITY.output(self.learner.predict(adapted, episode.query)).cpu().numpy()
        labels = episode.query_labels
        known = ~np.isnan(labels)
        if 0 < labels[known].sum() < known.sum():  # ROC-AUC needs binders and non-binders
            self.record_validation(episode.assay, roc_auc=roc_auc(labels[known], scores[known]))

    def configure_optimizers(self):
        return torch.optim.Adam(self.learner.parameters(), lr=self.hparams.meta_lr,
                                weight_decay=self.hparams.weight_decay)
