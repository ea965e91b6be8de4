"""Task heads, and the one task model meta-learning adapts: encoder, optional body, head.

The head reads the molecule embedding of the graph encoder and, optionally, the molecule's
ECFP bits (``fingerprint_dim`` > 0, read from the batch's ``fp`` attribute): FS-Mol's
meta-learning baselines feed their heads the same GNN+ECFP concatenation, and on single
targets the fingerprint carries the local SAR that a 16-molecule support cannot teach a GNN.

Where the encoder is a fixed prior whose embeddings are computed once (the MHC model's peptide
embeddings), the model has no encoder and reads those features; a shared *body* (an MLP with
LayerNorm at both ends, :class:`BodyConfig`) may then sit between them and the head, and it
is what a per-task body adapter (:mod:`molprior.immunology.body_adapter`) updates.
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


@dataclass
class BodyConfig:
    """Shape of a shared body between the representation and the head."""

    hidden_dim: int = 256
    output_dim: int = 64
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


def body_network(input_dim: int, config: BodyConfig) -> nn.Sequential:
    """LayerNorm at both ends: the head reads a representation of fixed scale, so an outer step
    cannot blow the inner loop's logits into the sigmoid's flat tails (where learning stops)."""
    return nn.Sequential(nn.LayerNorm(input_dim), nn.Linear(input_dim, config.hidden_dim), nn.ReLU(),
                         nn.Dropout(config.dropout), nn.Linear(config.hidden_dim, config.output_dim),
                         nn.LayerNorm(config.output_dim))


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
    """Encoder, optional body and task head: one output per input.

    With a graph ``encoder`` the model reads graph batches (and their fingerprints when the
    head is configured for them); without one it reads precomputed features of width
    ``input_dim`` (a tensor, or a batch with the tensor as ``x``).  ``body`` adds a shared
    :func:`body_network` in front of the head.  Parameters are named ``encoder.*``, ``body.*``
    and ``head.*``.
    """

    def __init__(self, encoder: GraphEncoder | None, head: HeadConfig | int = HeadConfig(),
                 body: BodyConfig | None = None, input_dim: int | None = None):
        super().__init__()
        if isinstance(head, int):
            head = HeadConfig(hidden_dim=head)
        if (encoder is None) == (input_dim is None):
            raise ValueError("a task model reads a graph encoder's embeddings or features of a given width, "
                             "not both and not neither")
        if encoder is None and head.fingerprint_dim:
            raise ValueError("fingerprints go beside a graph encoder's embedding")
        self.head_config, self.body_config = head, body
        self.encoder = encoder
        self.input_dim = input_dim if encoder is None else encoder.config.output_dim + head.fingerprint_dim
        self.body = None if body is None else body_network(self.input_dim, body)
        head_input = self.input_dim if body is None else body.output_dim
        self.head = MLPHead(head_input, head.hidden_dim, head.dropout)

    def represent(self, data) -> torch.Tensor:
        """What the head reads: the embedding (with the fingerprint when configured) or the
        features, through the body when there is one."""
        x = self._features(data) if self.encoder is None else self._embedding(data)
        return x if self.body is None else self.body(x)

    @staticmethod
    def _features(data) -> torch.Tensor:
        return data if isinstance(data, torch.Tensor) else data.x

    def _embedding(self, data) -> torch.Tensor:
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
