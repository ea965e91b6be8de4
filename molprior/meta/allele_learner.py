"""MAML over MHC alleles: the allele model's initialisation, adapted per allele with the censored loss.

Second-order MAML, first-order MAML and ANIL come from :class:`molprior.meta.maml.MAML`; the
loss on a task is MHCflurry's censored squared error on the sigmoid of the model's output
(the transformed affinity), so ``<``/``>`` measurements count only when violated.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import nn
from torch.func import functional_call

from molprior.meta.finetune import fine_tune
from molprior.meta.losses import objective
from molprior.meta.maml import MAML, MAMLConfig
from molprior.models.body_adapter import adapted_body, init_adapter
from molprior.models.allele_model import AlleleModelConfig, PeptideFeatures, allele_task_model
from molprior.models.heads import TaskModel


#: What an allele's model is trained on and how its outputs read (:mod:`molprior.meta.losses`).
AFFINITY = objective("affinity")


def score_loss(relations: torch.Tensor | None):
    """The censored loss on scores, as MAML's ``loss(outputs, targets)``."""
    return AFFINITY.loss_for(relations)


class AlleleLearner(nn.Module):
    """The meta-learned allele model and its inner loop."""

    def __init__(self, input_dim: int, model: AlleleModelConfig = AlleleModelConfig(),
                 maml: MAMLConfig = MAMLConfig(anil=True, inner_steps=20, inner_lr=0.5)):
        super().__init__()
        self.model_config, self.maml_config = model, maml
        self.maml = MAML(allele_task_model(input_dim, model), maml)

    @property
    def model(self) -> TaskModel:
        return self.maml.model

    def adapt(self, support: PeptideFeatures, scores: torch.Tensor, relations: torch.Tensor | None = None,
              steps: int | None = None) -> dict[str, torch.Tensor]:
        """Fast weights for one allele from its support measurements."""
        return self.maml.adapt(support, scores, score_loss(relations), steps)

    def predict(self, params: dict[str, torch.Tensor], batch: PeptideFeatures) -> torch.Tensor:
        """Transformed affinities (0-1) under the fast weights ``params``."""
        return AFFINITY.output(self.maml.predict(params, batch))

    def meta_loss(self, support: PeptideFeatures, support_scores: torch.Tensor, support_relations: torch.Tensor,
                  query: PeptideFeatures, query_scores: torch.Tensor, query_relations: torch.Tensor) -> torch.Tensor:
        """The query loss after adapting to the support (differentiable through the inner loop)."""
        params = self.maml.adapt(support, support_scores, score_loss(support_relations))
        return score_loss(query_relations)(self.maml.predict(params, query), query_scores)


@dataclass
class AlleleFineTune:
    """An allele's own parameters after fine-tuning on all its measurements: the head (fast
    weights, as the inner loop makes them) and the body's low-rank adapter."""

    head: dict[str, torch.Tensor]
    body: dict[str, torch.Tensor]

    @torch.no_grad()
    def predict(self, learner: AlleleLearner, features: torch.Tensor) -> torch.Tensor:
        """Transformed affinities (0-1) of peptide embeddings ``features``."""
        model = learner.model
        representation = functional_call(model.body, adapted_body(model.body, self.body), (features,))
        return AFFINITY.output(functional_call(model.head, self.head, (representation,)))


def fine_tune_allele(learner: AlleleLearner, features: torch.Tensor, scores: torch.Tensor, relations: torch.Tensor,
                     epochs: int = 30, lr: float = 1e-3, body_lr: float = 1e-3, rank: int = 8,
                     batch_size: int = 128, seed: int = 0) -> AlleleFineTune:
    """Head and body adapter (:mod:`molprior.models.body_adapter`) trained on an allele's
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
