"""Multitask training of a few-shot learner's encoder and head (FS-Mol's multitask baseline).

The learner's model (graph encoder, then the head's hidden layer over the embedding and ECFP)
gets one output per training assay, for its label and, with ``value_weight`` > 0, one for its
standardised value; a step's loss is the mean cross-entropy over the batch's measurements plus
``value_weight`` times their censored squared error.  Everything else is meta-training's:
validation adapts the learner (a GP head, for ``adkf``) to FS-Mol's valid draws and scores the
queries, checkpoints are chosen on that, and the exported model is the learner alone; the
per-assay outputs are dropped, as they only serve training.
"""

from __future__ import annotations

import torch
from torch import nn

from molprior.meta.losses import objective
from molprior.training.metatrain_module import MetaTrainModule
from molprior.training.multitask_data import MultitaskBatch, MultitaskConfig

CLASSIFICATION, REGRESSION = objective("classification"), objective("regression")


class MultitaskModule(MetaTrainModule):
    """Trains ``FewShotLearner(TaskModel(encoder, head), learner)``'s encoder and hidden layer
    on ``num_tasks`` assays at once."""

    def __init__(self, encoder: dict | None = None, head: dict | None = None, learner: dict | None = None,
                 optim: dict | None = None, num_tasks: int = 1, multitask: dict | None = None):
        super().__init__(encoder, head, learner, optim)
        self.multitask = MultitaskConfig(**(multitask or {}))
        hidden = self.learner.model.head_config.hidden_dim
        self.label_outputs = nn.Linear(hidden, num_tasks)
        self.value_outputs = nn.Linear(hidden, num_tasks) if self.multitask.value_weight > 0 else None

    def episode_loss(self, batch: MultitaskBatch) -> torch.Tensor:
        model = self.learner.model
        hidden = model.head.hidden(model.represent(batch.molecules))[batch.rows]
        # each measurement reads its own assay's output: a row of the output layer
        logits = (hidden * self.label_outputs.weight[batch.tasks]).sum(-1) + self.label_outputs.bias[batch.tasks]
        loss = CLASSIFICATION.loss(logits, batch.labels, None)
        if self.value_outputs is not None:
            measured = torch.isfinite(batch.values)
            if measured.any():
                tasks = batch.tasks[measured]
                predicted = (hidden[measured] * self.value_outputs.weight[tasks]).sum(-1) + self.value_outputs.bias[tasks]
                loss = loss + self.multitask.value_weight * REGRESSION.loss(predicted, batch.values[measured],
                                                                             batch.relations[measured])
        return loss
