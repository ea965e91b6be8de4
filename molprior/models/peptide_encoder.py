"""Peptide embeddings from the graph encoder: residue embeddings laid out by position.

A peptide goes through the same graph encoder as any molecule (all atoms, from
:mod:`molprior.immunology.peptide_graphs`); its atom embeddings are then read out by the
registered ``residue_positions`` readout (:mod:`molprior.models.readouts`: the first and last
``terminal_slots`` residues, the mean of those in between, the mean of all atoms, a one-hot of
the length).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from molprior.immunology.peptide_graphs import PeptideGraphs, peptide_graphs
from molprior.models.encoder import GraphEncoder
from molprior.models.readouts import readout


class PeptideEncoder(nn.Module):
    """Fixed-size peptide embeddings from a (pretrained) :class:`GraphEncoder`."""

    def __init__(self, encoder: GraphEncoder, terminal_slots: int = 4, lengths: tuple[int, int] = (8, 15)):
        super().__init__()
        self.encoder = encoder
        self.positions = readout("residue_positions", terminal_slots=terminal_slots, lengths=tuple(lengths))

    @property
    def terminal_slots(self) -> int:
        return self.positions.terminal_slots

    @property
    def lengths(self) -> tuple[int, int]:
        return self.positions.lengths

    @property
    def output_dim(self) -> int:
        return self.positions.width(self.encoder.config.hidden_dim)

    def forward(self, peptides: PeptideGraphs) -> torch.Tensor:
        """One row per peptide, :attr:`output_dim` wide."""
        batch = peptides.graphs.to_batch()
        atoms = self.encoder.atom_embeddings(batch.x, batch.edge_index, batch.edge_attr)
        return self.positions(atoms, batch.batch, len(peptides), peptides)

    @torch.no_grad()  # not inference_mode: embeddings feed inner loops that take gradients
    def embed(self, peptides: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings of peptide sequences (standard residues), ``batch_size`` at a time."""
        rows = [self(peptide_graphs(peptides[i:i + batch_size])) for i in range(0, len(peptides), batch_size)]
        return torch.cat(rows) if rows else torch.zeros(0, self.output_dim)
