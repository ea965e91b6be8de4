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
from molprior.chem.graphs import MolGraphs, concatenated_ranges
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


@dataclass(frozen=True)
class _TemplateTable:
    """Every residue's templates in every role, stacked: template ``3 * residue + role``."""

    x: np.ndarray  # all templates' atoms
    atom_start: np.ndarray  # per template: its first row of ``x``
    atoms: np.ndarray  # per template: atoms
    edges: np.ndarray  # 2 x all templates' edges (local atom indices)
    edge_attr: np.ndarray
    edge_start: np.ndarray
    n_edges: np.ndarray
    amide_n: np.ndarray
    carbonyl_c: np.ndarray


_LETTERS = "".join(sorted(STANDARD_RESIDUES))
_LETTER_INDEX = np.full(256, -1, np.int64)
_LETTER_INDEX[np.frombuffer(_LETTERS.encode(), np.uint8)] = np.arange(len(_LETTERS))


@lru_cache(maxsize=None)
def _template_table() -> _TemplateTable:
    templates = [residue_template(letter, role) for letter in _LETTERS for role in (N_TERMINAL, INTERNAL, C_TERMINAL)]
    atoms = np.array([len(t.x) for t in templates], dtype=np.int64)
    n_edges = np.array([t.edges.shape[1] for t in templates], dtype=np.int64)
    return _TemplateTable(np.concatenate([t.x for t in templates]), np.cumsum(atoms) - atoms, atoms,
                          np.concatenate([t.edges for t in templates], axis=1),
                          np.concatenate([t.edge_attr for t in templates]), np.cumsum(n_edges) - n_edges, n_edges,
                          np.array([t.amide_n for t in templates]), np.array([t.carbonyl_c for t in templates]))


def _residue_codes(peptides: Sequence[str]) -> np.ndarray:
    """The index in :data:`_LETTERS` of every residue of ``peptides``, concatenated."""
    text = "".join(peptides)
    codes = _LETTER_INDEX[np.frombuffer(text.encode("utf-8", "surrogatepass"), np.uint8)] if text else \
        np.zeros(0, np.int64)
    if len(codes) != len(text) or (codes < 0).any():  # a multi-byte character, or not a standard residue
        for peptide in peptides:
            for letter in peptide:
                if letter not in STANDARD_RESIDUES:
                    raise InputError(f"not a standard residue: {letter!r}")
    return codes


@dataclass
class PeptideGraphs:
    """All-atom graphs of peptides and the residue position of every atom."""

    graphs: MolGraphs
    residue: np.ndarray  # int64 per atom: 0-based position of its residue in its peptide
    lengths: np.ndarray  # int64 per peptide: residues

    def __len__(self) -> int:
        return len(self.graphs)

    def block(self, start: int, stop: int) -> "PeptideGraphs":
        """Peptides ``start`` to ``stop`` (exclusive), as views of these arrays (no copy)."""
        g = self.graphs
        atoms = slice(g.atom_ptr[start], g.atom_ptr[stop])
        edges = slice(g.edge_ptr[start], g.edge_ptr[stop])
        part = MolGraphs(g.smiles[start:stop], g.x[atoms], g.edge_index[:, edges], g.edge_attr[edges],
                         g.atom_ptr[start:stop + 1] - g.atom_ptr[start], g.edge_ptr[start:stop + 1] - g.edge_ptr[start])
        return PeptideGraphs(part, self.residue[atoms], self.lengths[start:stop])


def peptide_graphs(peptides: Sequence[str]) -> PeptideGraphs:
    """Graphs of peptides of standard residues, length 2 or more (``ValueError`` otherwise).
    Each peptide's atoms come residue by residue, in template order; its edges residue by
    residue too: the template's, then the peptide bond to the previous residue (both ways)."""
    lengths = np.array([len(p) for p in peptides], dtype=np.int64)
    if (lengths < 2).any():
        raise InputError(f"a peptide needs at least two residues: {peptides[int(np.argmax(lengths < 2))]!r}")
    table = _template_table()
    codes = _residue_codes(peptides)
    n = len(lengths)
    peptide_of = np.repeat(np.arange(n), lengths)  # per residue
    first = np.cumsum(lengths) - lengths  # each peptide's first residue
    position = np.arange(len(codes)) - first[peptide_of]
    role = np.where(position == 0, N_TERMINAL, np.where(position == lengths[peptide_of] - 1, C_TERMINAL, INTERNAL))
    template = 3 * codes + role
    atoms = table.atoms[template]
    atom_offset = np.cumsum(atoms) - atoms  # per residue, in the batch
    atom_ptr = np.concatenate([[0], np.cumsum(atoms)[first + lengths - 1]]) if n else np.zeros(1, np.int64)
    local_offset = atom_offset - atom_ptr[:-1][peptide_of]  # per residue, in its peptide
    x = table.x[concatenated_ranges(table.atom_start[template], atoms)]
    residue = np.repeat(position, atoms)

    bonded = position > 0  # the residue has a peptide bond to the previous one
    template_edges = table.n_edges[template]
    block = template_edges + 2 * bonded  # edges per residue
    block_start = np.cumsum(block) - block
    edge_index = np.empty((2, int(block.sum())), np.int64)
    edge_attr = np.empty((len(edge_index[0]), table.edge_attr.shape[1]), np.uint8)
    own = concatenated_ranges(block_start, template_edges)
    source = concatenated_ranges(table.edge_start[template], template_edges)
    edge_index[:, own] = table.edges[:, source] + np.repeat(local_offset, template_edges)
    edge_attr[own] = table.edge_attr[source]
    later = np.flatnonzero(bonded)
    amide = local_offset[later] + table.amide_n[template[later]]
    carbonyl = local_offset[later - 1] + table.carbonyl_c[template[later - 1]]
    at = block_start[later] + template_edges[later]
    edge_index[:, at], edge_index[:, at + 1] = np.stack([carbonyl, amide]), np.stack([amide, carbonyl])
    edge_attr[at] = edge_attr[at + 1] = _peptide_bond_attr()
    edge_ptr = np.concatenate([[0], np.cumsum(block)[first + lengths - 1]]) if n else np.zeros(1, np.int64)
    graphs = MolGraphs(list(peptides), x, edge_index, edge_attr, atom_ptr.astype(np.int64), edge_ptr.astype(np.int64))
    return PeptideGraphs(graphs, residue, lengths)
