"""Peptide embeddings from the graph encoder: residue embeddings laid out by position.

A peptide goes through the same graph encoder as any molecule (all atoms, from
:mod:`molprior.immunology.peptide_graphs`); its atom embeddings are then read out by residue
position (:mod:`molprior.immunology.peptide_readout`: the first and last ``terminal_slots``
residues, the mean of those in between, the mean of all atoms, a one-hot of the length).
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from molprior.immunology.peptide_graphs import PeptideGraphs, peptide_graphs
from molprior.immunology.peptide_readout import readout_width, residue_positions
from molprior.models.encoder import GraphEncoder


class PeptideEncoder(nn.Module):
    """Fixed-size peptide embeddings from a (pretrained) :class:`GraphEncoder`."""

    def __init__(self, encoder: GraphEncoder, terminal_slots: int = 4, lengths: tuple[int, int] = (8, 15)):
        super().__init__()
        self.encoder = encoder
        self.terminal_slots = terminal_slots
        self.lengths = tuple(lengths)

    @property
    def output_dim(self) -> int:
        return readout_width(self.encoder.config.hidden_dim, self.terminal_slots, self.lengths)

    def forward(self, peptides: PeptideGraphs) -> torch.Tensor:
        """One row per peptide, :attr:`output_dim` wide."""
        batch = peptides.graphs.to_batch()
        atoms = self.encoder.atom_embeddings(batch.x, batch.edge_index, batch.edge_attr)
        return residue_positions(atoms, batch.batch, peptides, self.terminal_slots, self.lengths)

    @torch.no_grad()  # not inference_mode: embeddings feed inner loops that take gradients
    def embed(self, peptides: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings of peptide sequences (standard residues), ``batch_size`` at a time."""
        rows = [self(peptide_graphs(peptides[i:i + batch_size])) for i in range(0, len(peptides), batch_size)]
        return torch.cat(rows) if rows else torch.zeros(0, self.output_dim)
