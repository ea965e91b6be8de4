"""The residue-positional peptide readout: atom embeddings pooled per residue and laid out by
position, the way MHC predictors align peptides of different lengths.

A mean over all atoms would lose what matters most for MHC binding, *where* each residue sits
(the anchor residues at P2 and at the C-terminus).  So the atoms of each residue are averaged
and the peptide becomes: its first ``terminal_slots`` residues, its last ``terminal_slots``
residues, the mean of the residues in between (empty for the shortest peptides), the mean of
all atoms, and a one-hot of its length.  It is registered as the ``residue_positions`` readout
(:mod:`molprior.models.readouts`), which :class:`~molprior.models.peptide_encoder.PeptideEncoder`
puts on the graph encoder's atom embeddings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from molprior.errors import InputError
from molprior.immunology.peptide_graphs import PeptideGraphs


def _segment_mean(values: torch.Tensor, segment: torch.Tensor, segments: int) -> torch.Tensor:
    """Mean of the rows of ``values`` in each segment (zeros for an empty segment)."""
    total = values.new_zeros(segments, values.size(1)).index_add_(0, segment, values)
    count = values.new_zeros(segments).index_add_(0, segment, values.new_ones(segment.size(0)))
    return total / count.clamp(min=1).unsqueeze(1)


def readout_width(hidden_dim: int, terminal_slots: int, lengths: tuple[int, int]) -> int:
    """Width of the readout of ``hidden_dim``-wide atom embeddings."""
    return (2 * terminal_slots + 2) * hidden_dim + lengths[1] - lengths[0] + 1


def residue_positions(atoms: torch.Tensor, atom_peptide: torch.Tensor, peptides: PeptideGraphs,
                      terminal_slots: int, lengths: tuple[int, int]) -> torch.Tensor:
    """One row per peptide of ``peptides`` (:func:`readout_width` wide) from the embeddings of
    their atoms (``atoms``, in the graphs' order; ``atom_peptide`` the peptide of each atom)."""
    n = len(peptides)
    tensor = lambda array: torch.from_numpy(array).to(atoms.device)  # noqa: E731
    residue_lengths = peptides.lengths
    first_residue = np.concatenate([[0], np.cumsum(residue_lengths)[:-1]]).astype(np.int64)
    atom_residue = tensor(first_residue[atom_peptide.cpu().numpy()] + peptides.residue)
    residues = _segment_mean(atoms, atom_residue, int(residue_lengths.sum()))

    k = terminal_slots
    offsets = np.arange(k)
    starts = first_residue[:, None] + np.minimum(offsets[None, :], residue_lengths[:, None] - 1)
    ends = first_residue[:, None] + np.maximum(residue_lengths[:, None] - k + offsets[None, :], 0)
    slots = tensor(np.concatenate([starts, ends], axis=1).reshape(-1))
    terminal = residues[slots].reshape(n, 2 * k * residues.size(1))

    position = np.concatenate([np.arange(length) for length in residue_lengths]) if n else np.zeros(0, np.int64)
    residue_peptide = np.repeat(np.arange(n), residue_lengths)
    middle_rows = np.flatnonzero((position >= k) & (position < np.repeat(residue_lengths, residue_lengths) - k))
    middle = _segment_mean(residues[tensor(middle_rows)], tensor(residue_peptide[middle_rows]), n)
    whole = _segment_mean(atoms, atom_peptide.to(atoms.device), n)

    low, high = lengths
    length_index = tensor(np.clip(residue_lengths, low, high) - low)
    length_onehot = torch.nn.functional.one_hot(length_index, high - low + 1).to(atoms.dtype)
    return torch.cat([terminal, middle, whole, length_onehot], dim=1)


@dataclass(frozen=True)
class ResiduePositions:
    """The residue-positional readout with its options: ``terminal_slots`` residues kept at each
    end and the peptide ``lengths`` (shortest, longest) the length one-hot spans."""

    terminal_slots: int = 4
    lengths: tuple[int, int] = (8, 15)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lengths", tuple(int(n) for n in self.lengths))
        if self.terminal_slots < 1 or len(self.lengths) != 2 or not 1 <= self.lengths[0] <= self.lengths[1]:
            raise InputError(f"residue_positions takes terminal_slots >= 1 and lengths (shortest, longest), "
                             f"not {self.terminal_slots}, {self.lengths}")

    def width(self, hidden_dim: int) -> int:
        return readout_width(hidden_dim, self.terminal_slots, self.lengths)

    def __call__(self, atoms: torch.Tensor, batch: torch.Tensor, size: int | None = None,
                 graphs: object = None) -> torch.Tensor:
        if not isinstance(graphs, PeptideGraphs):
            raise InputError("the residue_positions readout reads the residue of each atom from peptide graphs "
                             "(molprior.immunology.peptide_graphs); a molecule's graph has none: choose "
                             "mean, sum, max or mean+max")
        return residue_positions(atoms, batch, graphs, self.terminal_slots, self.lengths)
