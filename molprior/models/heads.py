"""Task heads on top of the graph encoder, and the encoder+head model meta-learning adapts."""

from __future__ import annotations

import torch
from torch import nn

from molprior.models.encoder import GraphEncoder


class MLPHead(nn.Module):
    """A small MLP from a molecule embedding to one output (a logit or a value)."""

    def __init__(self, input_dim: int, hidden_dim: int = 128, dropout: float = 0.0):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(input_dim, hidden_dim), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden_dim, 1))

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        return self.net(embedding).squeeze(-1)


class TaskModel(nn.Module):
    """Graph encoder followed by a task head: one output per molecule."""

    def __init__(self, encoder: GraphEncoder, head_hidden_dim: int = 128):
        super().__init__()
        self.encoder = encoder
        self.head = MLPHead(encoder.config.output_dim, head_hidden_dim)

    def forward(self, data) -> torch.Tensor:
        return self.head(self.encoder.embed(data))
