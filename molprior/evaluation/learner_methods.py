"""Neural few-shot methods for the protocol: a :class:`FewShotLearner` adapted per episode.

The benchmark's neural rows are all one architecture (graph encoder plus head reading the
embedding and ECFP4 bits) and differ only in where the weights come from and how they adapt:

=====================  ===========================================  ============================
method                 initialisation                               adaptation to the support
=====================  ===========================================  ============================
``gnn_scratch``        random                                       Adam on all weights
``pretrained_finetune`` shipped prior encoder, new head             Adam on the head
``protonet``           meta-trained ProtoNet (from the prior)       class prototypes
``maml_scratch``       MAML meta-trained from a random encoder      inner loop
``maml_pretrained``    MAML meta-trained from the prior             inner loop
``adkf``               ADKF-IFT meta-trained from the prior         GP kernel fitted to the support
``adkf_scratch``       ADKF-IFT meta-trained from a random encoder  GP kernel fitted to the support
``molprior``           a meta-trained model (``--model``)           its own rule (the model's)
=====================  ===========================================  ============================
"""

from __future__ import annotations

import numpy as np
import torch

from molprior.data.episodes import Episode
from molprior.errors import InputError
from molprior.data.tasks import FewShotTask
from molprior.evaluation.fewshot import Method
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import FewShotLearner

QUERY_CHUNK = 2048


def learner_method(learner: FewShotLearner, bank: MoleculeBank) -> Method:
    """A protocol method that adapts ``learner`` to each support and scores the query (with the
    predictive spread, for the GP head)."""
    learner.eval()
    indices: dict[str, np.ndarray] = {}
    representations: dict[str, torch.Tensor] = {}

    def method(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
        if task.assay not in indices:
            indices[task.assay] = bank.indices(task.inputs)
            if learner.encoder_fixed:
                rows = indices[task.assay]
                representations[task.assay] = torch.cat([learner.represent(bank.batch(rows[i:i + QUERY_CHUNK]))
                                                         for i in range(0, len(rows), QUERY_CHUNK)])
        rows = indices[task.assay]
        regression = learner.config.task_type == "regression"
        if regression and task.values is None:
            raise InputError(f"assay {task.assay} has no measured values for a regression model")
        targets = torch.as_tensor((task.values if regression else task.labels)[episode.support], dtype=torch.float32)
        torch.manual_seed(seed)
        if learner.encoder_fixed:
            table = representations[task.assay]
            adapted = learner.adapt(table[episode.support], targets)
            out, spread = learner.predict_with_spread(adapted, table[episode.query])
            # the GP's predictive spread comes with its scores
            return out.numpy() if spread is None else (out.numpy(), spread.numpy())
        adapted = learner.adapt(bank.batch(rows[episode.support]), targets)
        query = rows[episode.query]
        return torch.cat([learner.predict(adapted, bank.batch(query[i:i + QUERY_CHUNK]))
                          for i in range(0, len(query), QUERY_CHUNK)]).numpy()

    return method
