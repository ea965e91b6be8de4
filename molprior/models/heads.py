"""Task heads on top of the graph encoder, and the encoder+head model meta-learning adapts.

The head reads the molecule embedding of the graph encoder and, optionally, the molecule's
ECFP bits (``fingerprint_dim`` > 0, read from the batch's ``fp`` attribute): FS-Mol's
meta-learning baselines feed their heads the same GNN+ECFP concatenation, and on single
targets the fingerprint carries the local SAR that a 16-molecule support cannot teach a GNN.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from molprior.errors import InputError
from molprior.models.encoder import GraphEncoder


@dataclass
class HeadConfig:
    """Shape of the task head."""

    hidden_dim: int = 128
    fingerprint_dim: int = 0  # 0: embedding only; 2048: ECFP4 bits beside the embedding
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class MLPHead(nn.Module):
    """A small MLP from a molecule representation to one output (a logit or a value)."""

    def __init__(self, input_dim: int, hidden_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, 1))

    def hidden(self, representation: torch.Tensor) -> torch.Tensor:
        """The hidden layer's activations (the metric space of a prototypical network)."""
        return self.net[:-1](representation)

    def forward(self, representation: torch.Tensor, hidden_only: bool = False) -> torch.Tensor:
        if hidden_only:
            return self.hidden(representation)
        return self.net(representation).squeeze(-1)


class TaskModel(nn.Module):
    """Graph encoder followed by a task head: one output per molecule."""

    def __init__(self, encoder: GraphEncoder, head: HeadConfig | int = HeadConfig()):
        super().__init__()
        if isinstance(head, int):
            head = HeadConfig(hidden_dim=head)
        self.head_config = head
        self.encoder = encoder
        self.head = MLPHead(encoder.config.output_dim + head.fingerprint_dim, head.hidden_dim, head.dropout)

    def represent(self, data) -> torch.Tensor:
        """What the head reads: the molecule embedding, with the fingerprint when configured."""
        embedding = self.encoder.embed(data)
        if not self.head_config.fingerprint_dim:
            return embedding
        fingerprint = getattr(data, "fp", None)
        if fingerprint is None or fingerprint.size(-1) != self.head_config.fingerprint_dim:
            raise InputError(f"this model reads {self.head_config.fingerprint_dim}-bit fingerprints from the "
                             "batch's `fp` attribute; build batches with molprior.meta.batches")
        return torch.cat([embedding, fingerprint.to(embedding.dtype)], dim=-1)

    def forward(self, data, hidden_only: bool = False) -> torch.Tensor:
        return self.head(self.represent(data), hidden_only=hidden_only)
