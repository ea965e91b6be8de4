"""MAML over MHC alleles: the few-shot learner with the affinity objective, and fine-tuning
for well-measured alleles.

The MHC model's learner is :class:`~molprior.meta.learner.FewShotLearner` with ``task_type
"affinity"`` over the encoder-less task model of :mod:`molprior.models.allele_model`: second-order
MAML, first-order MAML and ANIL from :class:`molprior.meta.maml.MAML`, the loss on a task
MHCflurry's censored squared error on the sigmoid of the model's output (the transformed
affinity), so ``<``/``>`` measurements count only when violated.  What is the allele side's own
is the fine-tuning of a head and a low-rank body adapter on an allele's many measurements.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch.func import functional_call

from molprior.meta.finetune import fine_tune
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.meta.losses import objective
from molprior.meta.maml import MAMLConfig
from molprior.immunology.body_adapter import adapted_body, init_adapter
from molprior.models.allele_model import AlleleModelConfig, allele_task_model


#: What an allele's model is trained on and how its outputs read (:mod:`molprior.meta.losses`).
AFFINITY = objective("affinity")
#: The allele learner's inner loop unless configured otherwise.
ALLELE_MAML = MAMLConfig(anil=True, inner_steps=20, inner_lr=0.5)


def score_loss(relations: torch.Tensor | None):
    """The censored loss on scores, as MAML's ``loss(outputs, targets)``."""
    return AFFINITY.loss_for(relations)


def allele_learner(input_dim: int, model: AlleleModelConfig = AlleleModelConfig(),
                   maml: MAMLConfig = ALLELE_MAML) -> FewShotLearner:
    """The meta-learned allele model (peptide embeddings of width ``input_dim``) and its inner loop."""
    return FewShotLearner(allele_task_model(input_dim, model),
                          LearnerConfig(algorithm="maml", task_type="affinity", maml=maml.to_dict()))


def allele_model_config(learner: FewShotLearner) -> AlleleModelConfig:
    """The shape of an allele learner's model, as MHC model files record it."""
    model = learner.model
    return AlleleModelConfig(body_hidden=model.body_config.hidden_dim, body_dim=model.body_config.output_dim,
                             head_hidden=model.head_config.hidden_dim, dropout=model.body_config.dropout)


@dataclass
class AlleleFineTune:
    """An allele's own parameters after fine-tuning on all its measurements: the head (fast
    weights, as the inner loop makes them) and the body's low-rank adapter."""

    head: dict[str, torch.Tensor]
    body: dict[str, torch.Tensor]

    @torch.no_grad()
    def predict(self, learner: FewShotLearner, features: torch.Tensor) -> torch.Tensor:
        """Transformed affinities (0-1) of peptide embeddings ``features``."""
        model = learner.model
        representation = functional_call(model.body, adapted_body(model.body, self.body), (features,))
        return AFFINITY.output(functional_call(model.head, self.head, (representation,)))


def fine_tune_allele(learner: FewShotLearner, features: torch.Tensor, scores: torch.Tensor, relations: torch.Tensor,
                     epochs: int = 30, lr: float = 1e-3, body_lr: float = 1e-3, rank: int = 8,
                     batch_size: int = 128, seed: int = 0) -> AlleleFineTune:
    """Head and body adapter (:mod:`molprior.immunology.body_adapter`) trained on an allele's
    peptide embeddings ``features``, starting from the meta-learned head and the shared body
    (for alleles with many measurements, where a full training run beats a few inner steps).
    The head learns at ``lr``, the adapter at ``body_lr``; the shared body is not changed."""
    generator = torch.Generator().manual_seed(seed)
    model = learner.model
    body_module = copy.deepcopy(model.body).train()  # dropout on while training; the learner is untouched
    head = {name: p.detach().clone().requires_grad_(True) for name, p in model.head.named_parameters()}
    adapter = {name: t.requires_grad_(True) for name, t in init_adapter(model.body, rank, generator).items()}
    optimizer = torch.optim.Adam([{"params": list(head.values()), "lr": lr},
                                  {"params": list(adapter.values()), "lr": body_lr}])

    def loss(rows: torch.Tensor) -> torch.Tensor:
        representation = functional_call(body_module, adapted_body(model.body, adapter), (features[rows],))
        return score_loss(relations[rows])(functional_call(model.head, head, (representation,)), scores[rows])

    fine_tune(optimizer, loss, len(scores), epochs, batch_size,
              shuffle=lambda n: torch.randperm(n, generator=generator))
    return AlleleFineTune({k: v.detach() for k, v in head.items()}, {k: v.detach() for k, v in adapter.items()})
