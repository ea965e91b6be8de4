"""The LightningModule that meta-trains a few-shot learner (MAML family, ProtoNet, ADKF) on
any kind of task: assays over molecular graphs, MHC alleles over peptide embeddings.

Manual optimisation: every step takes a list of episodes, sums their meta-objectives
(:meth:`FewShotLearner.meta_loss`: the query loss after adapting to the support, which for
second-order MAML differentiates through the inner loop), and takes one outer Adam step.
The pretrained encoder may get a smaller outer learning rate than the head
(``encoder_lr_scale``).  Validation adapts to each fixed meta-validation episode exactly as
inference will and logs the mean ΔAUPRC and ROC-AUC (the module's ``selection_metric``, ΔAUPRC
for assays and ROC-AUC at 500 nM for alleles, is what checkpoints are chosen and early stopping
decided on).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from molprior.metrics.classification import delta_auprc, roc_auc
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import BodyConfig, HeadConfig, TaskModel
from molprior.training.metatrain_data import EpisodeBatch, ValidationAssay
from molprior.training.outer_loop import OuterLoopModule


def _to(tensor: torch.Tensor | None, device) -> torch.Tensor | None:
    return None if tensor is None else tensor.to(device)


@dataclass
class MetaOptimConfig:
    """Outer-loop optimisation."""

    meta_lr: float = 1e-3
    encoder_lr_scale: float = 1.0
    weight_decay: float = 0.0
    gradient_clip: float = 1.0
    # the learning rates are multiplied by lr_decay_factor once more than lr_decay_patience
    # validations in a row brought no better val_delta_auprc (PyTorch's ReduceLROnPlateau);
    # 0: constant rates
    lr_decay_patience: int = 0
    lr_decay_factor: float = 0.3


class MetaTrainModule(OuterLoopModule):
    """Meta-trains ``FewShotLearner(TaskModel(encoder, head), learner)``: on graphs (an
    ``encoder``), or with ``input_dim`` on precomputed features through an optional shared
    ``body`` (the MHC model: peptide embeddings of the fixed prior).  Checkpoints are chosen on
    ``selection_metric``: ``val_delta_auprc`` (assays) or ``val_roc_auc`` (alleles)."""

    def __init__(self, encoder: dict | None = None, head: dict | None = None, learner: dict | None = None,
                 optim: dict | None = None, input_dim: int | None = None, body: dict | None = None,
                 selection_metric: str = "val_delta_auprc"):
        super().__init__()
        self.save_hyperparameters()
        self.learner_config = LearnerConfig(**(learner or {}))
        if selection_metric not in ("val_delta_auprc", "val_roc_auc"):
            raise ValueError(f"checkpoints are chosen on val_delta_auprc or val_roc_auc, not {selection_metric!r}")
        self.selection_metric = selection_metric
        if input_dim is None:
            model = TaskModel(GraphEncoder(EncoderConfig(**(encoder or {}))), HeadConfig(**(head or {})))
        else:
            model = TaskModel(None, HeadConfig(**(head or {})), body=None if body is None else BodyConfig(**body),
                              input_dim=input_dim)
        self.learner = FewShotLearner(model, self.learner_config)
        self.optim = MetaOptimConfig(**(optim or {}))

    @property
    def outer_gradient_clip(self) -> float:
        return self.optim.gradient_clip

    def episode_loss(self, e: EpisodeBatch) -> torch.Tensor:
        return self.learner.meta_loss(e.support, e.support_targets, e.query, e.query_targets, e.support_relations,
                                      e.query_relations)

    def validation_step(self, assay: ValidationAssay, batch_idx: int) -> None:
        table = None
        if self.learner.encoder_fixed:  # embed the assay once for all its draws
            table = self.learner.represent(assay.molecules().to(self.device))
        for k, episode in enumerate(assay.episodes):
            labels = assay.task.labels[episode.query]
            known = ~np.isnan(labels)  # an allele's censored measurement may be neither binder nor not
            if table is not None:
                rows = torch.as_tensor(episode.support, device=self.device)
                adapted = self.learner.adapt(table[rows], assay.targets(episode.support).to(self.device),
                                             _to(assay.relations(episode.support), self.device))
                scores = self.learner.predict(adapted, table[torch.as_tensor(episode.query, device=self.device)])
            else:
                batch = assay.episode(k).to(self.device)
                adapted = self.learner.adapt(batch.support, batch.support_targets, batch.support_relations)
                scores = self.learner.predict(adapted, batch.query)
            scores = scores.detach().cpu().numpy()
            if 0 < labels[known].sum() < known.sum():  # the metrics need both classes
                self.record_validation(assay.task.assay, delta_auprc=delta_auprc(labels[known], scores[known]),
                                       roc_auc=roc_auc(labels[known], scores[known]))

    def configure_optimizers(self):
        encoder = [] if self.learner.model.encoder is None else list(self.learner.model.encoder.parameters())
        encoder_ids = {id(p) for p in encoder}
        rest = [p for p in self.parameters() if id(p) not in encoder_ids]  # the head (and any training-only outputs)
        groups = [{"params": rest, "lr": self.optim.meta_lr}]
        if encoder and self.optim.encoder_lr_scale > 0:
            groups.append({"params": encoder, "lr": self.optim.meta_lr * self.optim.encoder_lr_scale})
        elif self.learner.encoder_fixed:  # the encoder stays as pretrained: no gradients through it at all
            for parameter in encoder:
                parameter.requires_grad_(False)
        optimizer = torch.optim.Adam(groups, weight_decay=self.optim.weight_decay)
        if not self.optim.lr_decay_patience:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=self.optim.lr_decay_factor,
                                                               patience=self.optim.lr_decay_patience)
        # manual optimisation: on_validation_epoch_end steps it with val_delta_auprc
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}
