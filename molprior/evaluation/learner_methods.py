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
``hyper_maml``         a hypernetwork head meta-trained with MAML   inner loop in its latent code
                       on the shipped model's fixed features
``hyper_maml_described`` as ``hyper_maml``                          the same, from the code of the
                                                                    task's description
``molprior``           a meta-trained model (``--model``)           its own rule (the model's)
=====================  ===========================================  ============================

Zero-shot methods (:func:`zero_shot_method`) make the head from the task's description alone
and score every molecule of the task.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from molprior.data.episodes import Episode
from molprior.errors import InputError
from molprior.data.tasks import FewShotTask
from molprior.evaluation.fewshot import Method
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import FewShotLearner

QUERY_CHUNK = 2048


def learner_method(learner: FewShotLearner, bank: MoleculeBank,
                   start: Callable[[FewShotTask], torch.Tensor] | None = None) -> Method:
    """A protocol method that adapts ``learner`` to each support and scores the query (with the
    predictive spread, for the GP head); ``start`` gives a hypernetwork head's latent code to
    start from for a task (once per task)."""
    learner.eval()
    indices: dict[str, np.ndarray] = {}
    representations: dict[str, torch.Tensor] = {}
    starts: dict[str, torch.Tensor | None] = {}

    def method(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
        if task.assay not in indices:
            indices[task.assay] = bank.indices(task.inputs)
            if learner.encoder_fixed:
                representations[task.assay] = _represent(learner, bank, indices[task.assay])
            starts[task.assay] = None if start is None else start(task)
        rows = indices[task.assay]
        regression = learner.config.task_type == "regression"
        if regression and task.values is None:
            raise InputError(f"assay {task.assay} has no measured values for a regression model")
        targets = torch.as_tensor((task.values if regression else task.labels)[episode.support], dtype=torch.float32)
        torch.manual_seed(seed)
        if learner.encoder_fixed:
            table = representations[task.assay]
            adapted = learner.adapt(table[episode.support], targets, start=starts[task.assay])
            out, spread = learner.predict_with_spread(adapted, table[episode.query])
            # the GP's predictive spread comes with its scores
            return out.numpy() if spread is None else (out.numpy(), spread.numpy())
        adapted = learner.adapt(bank.batch(rows[episode.support]), targets, start=starts[task.assay])
        query = rows[episode.query]
        return torch.cat([learner.predict(adapted, bank.batch(query[i:i + QUERY_CHUNK]))
                          for i in range(0, len(query), QUERY_CHUNK)]).numpy()

    return method


def _represent(learner: FewShotLearner, bank: MoleculeBank, rows: np.ndarray) -> torch.Tensor:
    """The head's input for the bank's ``rows``, in chunks of :data:`QUERY_CHUNK`."""
    return torch.cat([learner.represent(bank.batch(rows[i:i + QUERY_CHUNK])) for i in range(0, len(rows), QUERY_CHUNK)])


def zero_shot_method(learner: FewShotLearner, bank: MoleculeBank,
                     latent: Callable[[FewShotTask, int], torch.Tensor]) -> Method:
    """A zero-shot protocol method: the hypernetwork head of ``learner`` at ``latent(task,
    seed)`` (from the task's description) scores the query; no support is read."""
    learner.eval()

    def method(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
        adapted = learner.with_latent(latent(task, seed))
        table = _represent(learner, bank, bank.indices([task.inputs[i] for i in episode.query]))
        return learner.predict(adapted, table).numpy()

    return method
