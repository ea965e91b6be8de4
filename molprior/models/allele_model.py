"""The per-allele affinity model: a shared body over peptide embeddings and a head per allele.

The body maps the peptide embedding of :class:`~molprior.models.peptide_encoder.PeptideEncoder`
to a binding-oriented representation shared by all alleles; the head (an
:class:`~molprior.models.heads.MLPHead`) is the allele's task.  The output is a logit whose
sigmoid is MHCflurry's transformed affinity ``1 - log(ic50)/log(50000)``.

Meta-learning sees an allele as a task: MAML adapts body and head (or only the head, ANIL) to
an allele's support measurements.  The peptide embeddings are computed once (the graph encoder
is the fixed prior here), so batches are :class:`PeptideFeatures`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from molprior.models.heads import MLPHead


@dataclass
class AlleleModelConfig:
    """Shape of the body and of each allele's head."""

    body_hidden: int = 256
    body_dim: int = 64
    head_hidden: int = 64
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class PeptideFeatures:
    """A batch of precomputed peptide embeddings (what the allele model reads)."""

    x: torch.Tensor

    def to(self, device) -> "PeptideFeatures":
        return PeptideFeatures(self.x.to(device))

    def __len__(self) -> int:
        return self.x.size(0)


class AlleleTaskModel(nn.Module):
    """Body and head: one score logit per peptide."""

    def __init__(self, input_dim: int, config: AlleleModelConfig = AlleleModelConfig()):
        super().__init__()
        self.config = config
        self.input_dim = input_dim
        # LayerNorm at both ends: the heads read a representation of fixed scale, so an outer step
        # cannot blow the inner loop's logits into the sigmoid's flat tails (where learning stops)
        self.body = nn.Sequential(nn.LayerNorm(input_dim), nn.Linear(input_dim, config.body_hidden), nn.ReLU(),
                                  nn.Dropout(config.dropout), nn.Linear(config.body_hidden, config.body_dim),
                                  nn.LayerNorm(config.body_dim))
        self.head = MLPHead(config.body_dim, config.head_hidden, 0.0)

    def represent(self, batch: PeptideFeatures | torch.Tensor) -> torch.Tensor:
        return self.body(batch.x if isinstance(batch, PeptideFeatures) else batch)

    def forward(self, batch: PeptideFeatures | torch.Tensor) -> torch.Tensor:
        return self.head(self.represent(batch))
