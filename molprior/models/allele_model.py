"""The per-allele affinity model: a shared body over peptide embeddings and a head per allele,
as a :class:`~molprior.models.heads.TaskModel` without an encoder.

The body maps the peptide embedding of :class:`~molprior.models.peptide_encoder.PeptideEncoder`
to a binding-oriented representation shared by all alleles; the head is the allele's task.  The
output is a logit whose sigmoid is MHCflurry's transformed affinity ``1 - log(ic50)/log(50000)``.

Meta-learning sees an allele as a task: MAML adapts body and head (or only the head, ANIL) to
an allele's support measurements.  The peptide embeddings are computed once (the graph encoder
is the fixed prior here), so batches are :class:`PeptideFeatures`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from molprior.models.heads import BodyConfig, HeadConfig, TaskModel


@dataclass
class AlleleModelConfig:
    """Shape of the body and of each allele's head."""

    body_hidden: int = 256
    body_dim: int = 64
    head_hidden: int = 64
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)

    def body(self) -> BodyConfig:
        return BodyConfig(hidden_dim=self.body_hidden, output_dim=self.body_dim, dropout=self.dropout)


@dataclass
class PeptideFeatures:
    """A batch of precomputed peptide embeddings (what the allele model reads)."""

    x: torch.Tensor

    def to(self, device) -> "PeptideFeatures":
        return PeptideFeatures(self.x.to(device))

    def __len__(self) -> int:
        return self.x.size(0)


def allele_task_model(input_dim: int, config: AlleleModelConfig = AlleleModelConfig()) -> TaskModel:
    """The task model over peptide embeddings of width ``input_dim``: a shared body and an
    allele's head (no dropout in the head), one score logit per peptide."""
    return TaskModel(None, HeadConfig(hidden_dim=config.head_hidden), body=config.body(), input_dim=input_dim)
