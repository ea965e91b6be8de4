"""Peptide embeddings from the graph encoder: residue embeddings laid out by position.

A peptide goes through the same graph encoder as any molecule (all atoms, from
:mod:`molprior.immunology.peptide_graphs`); its atom embeddings are then read out by the
registered ``residue_positions`` readout (:mod:`molprior.models.readouts`: the first and last
``terminal_slots`` residues, the mean of those in between, the mean of all atoms, a one-hot of
the length).

Peptides share residues, so their atoms share receptive fields: the encoder runs once per
distinct field of a pass (:mod:`molprior.models.receptive_fields`; 1.5 million atoms of 20,000
MHC ligands have 5,959), not once per atom, with the same result.  The more peptides a pass
holds, the more they share; a pass's size changes no embedding.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch import nn

from molprior.immunology.peptide_graphs import PeptideGraphs, peptide_graphs
from molprior.models.encoder import GraphEncoder
from molprior.models.readouts import readout
from molprior.models.receptive_fields import receptive_fields

#: Peptides whose receptive fields are found together (the default of :meth:`PeptideEncoder.embed`).
PEPTIDES_PER_PASS = 8192
READOUT_BLOCK = 256  # peptides whose atom embeddings are laid out at a time (bounds memory)


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
        fields = receptive_fields(peptides.graphs, len(self.encoder.convs))
        embeddings = self.encoder.field_embeddings(fields)
        atom_field = torch.from_numpy(fields.atom_field).to(embeddings.device)
        atom_ptr = peptides.graphs.atom_ptr
        rows = []
        for start in range(0, len(peptides), READOUT_BLOCK):
            stop = min(start + READOUT_BLOCK, len(peptides))
            atoms = embeddings[atom_field[atom_ptr[start]:atom_ptr[stop]]]
            atom_peptide = torch.from_numpy(np.repeat(np.arange(stop - start), np.diff(atom_ptr[start:stop + 1])))
            rows.append(self.positions(atoms, atom_peptide, stop - start, peptides.block(start, stop)))
        return torch.cat(rows) if rows else torch.zeros(0, self.output_dim)

    @torch.no_grad()  # not inference_mode: embeddings feed inner loops that take gradients
    def embed(self, peptides: Sequence[str], batch_size: int | None = None) -> torch.Tensor:
        """Embeddings of peptide sequences (standard residues), ``batch_size`` (default
        :data:`PEPTIDES_PER_PASS`) to a pass."""
        size = batch_size or PEPTIDES_PER_PASS
        rows = [self(peptide_graphs(peptides[i:i + size])) for i in range(0, len(peptides), size)]
        return torch.cat(rows) if rows else torch.zeros(0, self.output_dim)
