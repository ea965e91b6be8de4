"""Peptide embeddings from the graph encoder: residue embeddings laid out by position.

A peptide goes through the same graph encoder as any molecule (all atoms, from
:mod:`molprior.chem.peptide_graphs`).  A mean over all atoms would lose what matters most for
MHC binding, *where* each residue sits (the anchor residues at P2 and at the C-terminus), so
the atom embeddings are pooled per residue and laid out the way MHC predictors align peptides
of different lengths: the first ``terminal_slots`` residues, the last ``terminal_slots``
residues, the mean of the residues in between (empty for the shortest peptides), the mean of
all atoms, and a one-hot of the length.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from molprior.chem.peptide_graphs import PeptideGraphs, peptide_graphs
from molprior.models.encoder import GraphEncoder


def _segment_mean(values: torch.Tensor, segment: torch.Tensor, segments: int) -> torch.Tensor:
    """Mean of the rows of ``values`` in each segment (zeros for an empty segment)."""
    total = values.new_zeros(segments, values.size(1)).index_add_(0, segment, values)
    count = values.new_zeros(segments).index_add_(0, segment, values.new_ones(segment.size(0)))
    return total / count.clamp(min=1).unsqueeze(1)


class PeptideEncoder(nn.Module):
    """Fixed-size peptide embeddings from a (pretrained) :class:`GraphEncoder`."""

    def __init__(self, encoder: GraphEncoder, terminal_slots: int = 4, lengths: tuple[int, int] = (8, 15)):
        super().__init__()
        self.encoder = encoder
        self.terminal_slots = terminal_slots
        self.lengths = tuple(lengths)

    @property
    def output_dim(self) -> int:
        hidden = self.encoder.config.hidden_dim
        return (2 * self.terminal_slots + 2) * hidden + self.lengths[1] - self.lengths[0] + 1

    def forward(self, peptides: PeptideGraphs) -> torch.Tensor:
        """One row per peptide, :attr:`output_dim` wide."""
        batch = peptides.graphs.to_batch()
        atoms = self.encoder.atom_embeddings(batch.x, batch.edge_index, batch.edge_attr)
        n = len(peptides)
        lengths = peptides.lengths
        first_residue = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
        atom_peptide = batch.batch.numpy()
        atom_residue = torch.from_numpy(first_residue[atom_peptide] + peptides.residue)
        residues = _segment_mean(atoms, atom_residue, int(lengths.sum()))

        k = self.terminal_slots
        offsets = np.arange(k)
        starts = first_residue[:, None] + np.minimum(offsets[None, :], lengths[:, None] - 1)
        ends = first_residue[:, None] + np.maximum(lengths[:, None] - k + offsets[None, :], 0)
        slots = torch.from_numpy(np.concatenate([starts, ends], axis=1).reshape(-1))
        terminal = residues[slots].reshape(n, 2 * k * residues.size(1))

        position = np.concatenate([np.arange(length) for length in lengths]) if n else np.zeros(0, np.int64)
        residue_peptide = np.repeat(np.arange(n), lengths)
        middle_rows = np.flatnonzero((position >= k) & (position < np.repeat(lengths, lengths) - k))
        middle = _segment_mean(residues[torch.from_numpy(middle_rows)],
                               torch.from_numpy(residue_peptide[middle_rows]), n)
        whole = _segment_mean(atoms, batch.batch, n)

        low, high = self.lengths
        length_index = torch.from_numpy(np.clip(lengths, low, high) - low)
        length_onehot = torch.nn.functional.one_hot(length_index, high - low + 1).to(atoms.dtype)
        return torch.cat([terminal, middle, whole, length_onehot], dim=1)

    @torch.no_grad()  # not inference_mode: embeddings feed inner loops that take gradients
    def embed(self, peptides: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Embeddings of peptide sequences (standard residues), ``batch_size`` at a time."""
        rows = [self(peptide_graphs(peptides[i:i + batch_size])) for i in range(0, len(peptides), batch_size)]
        return torch.cat(rows) if rows else torch.zeros(0, self.output_dim)
