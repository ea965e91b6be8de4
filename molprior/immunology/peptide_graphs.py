"""Graphs of peptides assembled from residue templates, with each atom's residue position.

A peptide of standard residues is a chain of residues joined by peptide bonds, and an atom's
features (element, degree, hydrogens, chirality, hybridisation...) depend only on its own
residue and on whether that residue is the N-terminal one, an internal one or the C-terminal
one.  So each residue's atoms and bonds are read once from ``Chem.MolFromSequence`` in those
three roles, and a peptide's graph is the concatenation of its residues' templates plus the
peptide bonds: the same arrays as :func:`molprior.chem.features.reference_graph` of
``Chem.MolFromSequence(peptide)`` (atoms in the same order), about a hundred times faster,
which is what scoring a million peptides needs.

Each atom also carries the position of its residue, so the encoder's atom embeddings can be
pooled per residue (:mod:`molprior.immunology.peptide_readout`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np
from rdkit import Chem

from molprior.chem.features import reference_graph
from molprior.chem.graphs import MolGraphs
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.errors import InputError
from molprior.immunology.peptides import STANDARD_RESIDUES

N_TERMINAL, INTERNAL, C_TERMINAL = 0, 1, 2
_CONTEXT = "G"  # the neighbour residue the templates are read from (glycine: no side chain)


@dataclass(frozen=True)
class ResidueTemplate:
    """One residue's atoms and bonds in one role, and where its peptide bonds attach."""

    x: np.ndarray  # uint8, atoms x 9
    edges: np.ndarray  # int64, 2 x edges (both directions), local atom indices
    edge_attr: np.ndarray  # uint8, edges x 3
    amide_n: int  # local index of the backbone N (bonded to the previous residue's C)
    carbonyl_c: int  # local index of the backbone C (bonded to the next residue's N)


def _role_context(residue: str, role: int) -> tuple[str, int]:
    """The sequence a template is read from and the residue number (1-based) of ``residue``."""
    if role == N_TERMINAL:
        return residue + _CONTEXT, 1
    if role == C_TERMINAL:
        return _CONTEXT + residue, 2
    return _CONTEXT + residue + _CONTEXT, 2


@lru_cache(maxsize=None)  # outermost: a template already built costs a dictionary look-up, nothing more
@quiet_rdkit()
def residue_template(residue: str, role: int) -> ResidueTemplate:
    """The template of a standard residue in a role (read from ``Chem.MolFromSequence``)."""
    if residue not in STANDARD_RESIDUES:
        raise InputError(f"not a standard residue: {residue!r}")
    sequence, number = _role_context(residue, role)
    mol = Chem.MolFromSequence(sequence)
    x, edge_index, edge_attr = reference_graph(mol)
    info = [a.GetPDBResidueInfo() for a in mol.GetAtoms()]
    mine = np.array([i.GetResidueNumber() == number for i in info])
    atoms = np.flatnonzero(mine)
    local = np.full(len(mine), -1)
    local[atoms] = np.arange(len(atoms))
    inside = mine[edge_index[0]] & mine[edge_index[1]]
    names = [info[a].GetName().strip() for a in atoms]
    return ResidueTemplate(x[atoms], local[edge_index[:, inside]], edge_attr[inside],
                           names.index("N"), names.index("C"))


@lru_cache(maxsize=None)
@quiet_rdkit()
def _peptide_bond_attr() -> np.ndarray:
    """Features of the C(i)-N(i+1) peptide bond (the same for every residue pair)."""
    mol = Chem.MolFromSequence(_CONTEXT * 2)
    residue = [a.GetPDBResidueInfo().GetResidueNumber() for a in mol.GetAtoms()]
    for bond in mol.GetBonds():
        if residue[bond.GetBeginAtomIdx()] != residue[bond.GetEndAtomIdx()]:
            x, edge_index, edge_attr = reference_graph(mol)
            i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
            k = np.flatnonzero((edge_index[0] == i) & (edge_index[1] == j))[0]
            return edge_attr[k]
    raise AssertionError("no peptide bond in a dipeptide")


def _roles(length: int) -> list[int]:
    return [N_TERMINAL] + [INTERNAL] * (length - 2) + [C_TERMINAL]


@dataclass
class PeptideGraphs:
    """All-atom graphs of peptides and the residue position of every atom."""

    graphs: MolGraphs
    residue: np.ndarray  # int64 per atom: 0-based position of its residue in its peptide
    lengths: np.ndarray  # int64 per peptide: residues

    def __len__(self) -> int:
        return len(self.graphs)


@quiet_rdkit()
def peptide_graphs(peptides: Sequence[str]) -> PeptideGraphs:
    """Graphs of peptides of standard residues, length 2 or more (``ValueError`` otherwise)."""
    bond = _peptide_bond_attr()
    bond_pair = np.stack([bond, bond])  # both directions of a peptide bond
    xs, edge_blocks, attr_blocks, residues, atom_counts, edge_counts = [], [], [], [], [], []
    for peptide in peptides:
        if len(peptide) < 2:
            raise InputError(f"a peptide needs at least two residues: {peptide!r}")
        offset, previous_c, n_edges = 0, None, 0
        for position, (letter, role) in enumerate(zip(peptide, _roles(len(peptide)))):
            t = residue_template(letter, role)
            xs.append(t.x)
            edge_blocks.append(t.edges + offset)
            attr_blocks.append(t.edge_attr)
            n_edges += t.edges.shape[1]
            if previous_c is not None:
                n = offset + t.amide_n
                edge_blocks.append(np.array([[previous_c, n], [n, previous_c]], dtype=np.int64))
                attr_blocks.append(bond_pair)
                n_edges += 2
            residues.append(np.full(len(t.x), position, dtype=np.int64))
            previous_c = offset + t.carbonyl_c
            offset += len(t.x)
        atom_counts.append(offset)
        edge_counts.append(n_edges)
    atom_ptr = np.concatenate([[0], np.cumsum(atom_counts)]).astype(np.int64)
    edge_ptr = np.concatenate([[0], np.cumsum(edge_counts)]).astype(np.int64)
    empty = not xs
    graphs = MolGraphs(
        list(peptides),
        np.zeros((0, 9), np.uint8) if empty else np.concatenate(xs),
        np.zeros((2, 0), np.int64) if empty else np.concatenate(edge_blocks, axis=1),
        np.zeros((0, 3), np.uint8) if empty else np.concatenate(attr_blocks),
        atom_ptr, edge_ptr,
    )
    residue = np.zeros(0, np.int64) if empty else np.concatenate(residues)
    return PeptideGraphs(graphs, residue, np.array([len(p) for p in peptides], dtype=np.int64))
