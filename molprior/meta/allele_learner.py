"""MAML over MHC alleles: the allele model's initialisation, adapted per allele with the censored loss.

Second-order MAML, first-order MAML and ANIL come from :class:`molprior.meta.maml.MAML`; the
loss on a task is MHCflurry's censored squared error on the sigmoid of the model's output
(the transformed affinity), so ``<``/``>`` measurements count only when violated.
"""

from __future__ import annotations

import torch
from torch import nn

from molprior.meta.losses import censored_mse
from molprior.meta.maml import MAML, MAMLConfig
from molprior.models.allele_model import AlleleModelConfig, AlleleTaskModel, PeptideFeatures


def score_loss(relations: torch.Tensor | None):
    """The censored loss on scores, as MAML's ``loss(outputs, targets)``."""
    def loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return censored_mse(torch.sigmoid(logits), targets, relations)
    return loss


class AlleleLearner(nn.Module):
    """The meta-learned allele model and its inner loop."""

    def __init__(self, input_dim: int, model: AlleleModelConfig = AlleleModelConfig(),
                 maml: MAMLConfig = MAMLConfig(anil=True, inner_steps=20, inner_lr=0.5)):
        super().__init__()
        self.model_config, self.maml_config = model, maml
        self.maml = MAML(AlleleTaskModel(input_dim, model), maml)

    @property
    def model(self) -> AlleleTaskModel:
        return self.maml.model

    def adapt(self, support: PeptideFeatures, scores: torch.Tensor, relations: torch.Tensor | None = None,
              steps: int | None = None) -> dict[str, torch.Tensor]:
        """Fast weights for one allele from its support measurements."""
        return self.maml.adapt(support, scores, score_loss(relations), steps)

    def predict(self, params: dict[str, torch.Tensor], batch: PeptideFeatures) -> torch.Tensor:
        """Transformed affinities (0-1) under the fast weights ``params``."""
        return torch.sigmoid(self.maml.predict(params, batch))

    def meta_loss(self, support: PeptideFeatures, support_scores: torch.Tensor, support_relations: torch.Tensor,
                  query: PeptideFeatures, query_scores: torch.Tensor, query_relations: torch.Tensor) -> torch.Tensor:
        """The query loss after adapting to the support (differentiable through the inner loop)."""
        params = self.maml.adapt(support, support_scores, score_loss(support_relations))
        return score_loss(query_relations)(self.maml.predict(params, query), query_scores)


def fit_head(learner: AlleleLearner, body: torch.Tensor, scores: torch.Tensor, relations: torch.Tensor,
             epochs: int = 30, lr: float = 1e-3, batch_size: int = 128, seed: int = 0) -> dict[str, torch.Tensor]:
    """A head trained on all of an allele's measurements, starting from the meta-learned one,
    over fixed body outputs ``body`` (for alleles with many measurements, where a full training
    run beats a few inner steps)."""
    head = learner.model.head
    params = {name: p.detach().clone().requires_grad_(True) for name, p in head.named_parameters()}
    optimizer = torch.optim.Adam(params.values(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(scores), generator=generator)
        for start in range(0, len(order), batch_size):
            rows = order[start:start + batch_size]
            optimizer.zero_grad()
            logits = torch.func.functional_call(head, params, (body[rows],))
            score_loss(relations[rows])(logits, scores[rows]).backward()
            optimizer.step()
    return {name: p.detach() for name, p in params.items()}
