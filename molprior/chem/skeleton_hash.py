"""A cheap hash of a molecule's heavy-atom skeleton (elements and connectivity), from its graph.

Two molecules whose InChIKeys share the first block (formula, connectivity and hydrogens, the
key :mod:`molprior.data.leakage` compares molecules by) have the same heavy atoms joined the
same way, as long as InChI keeps every bond: it cuts bonds to metals, so only molecules made of
:data:`SKELETON_ELEMENTS` are hashed.  The hash ignores what the InChIKey skeleton ignores or
treats as mobile (bond orders, charges, hydrogens, stereochemistry, isotopes), so equal InChIKey
skeletons give equal hashes; different hashes therefore prove two molecules differ without
computing an InChI (about a millisecond each), which is what makes counting a library's molecules
that a model has seen cheap.  Equal hashes prove nothing: the InChIKey decides.

The hash is a few rounds of Weisfeiler-Lehman colour refinement with commutative sums of mixed
64-bit labels, vectorised over a whole :class:`~molprior.chem.graphs.MolGraphs` store, so the
value of a molecule does not depend on its atom order or on the other molecules of the store.
"""

from __future__ import annotations

import numpy as np

from molprior.chem.graphs import MolGraphs

#: Elements InChI never disconnects: C, N, O, F, P, S, Cl, Br, I (atomic numbers).
SKELETON_ELEMENTS = frozenset({6, 7, 8, 9, 15, 16, 17, 35, 53})
ROUNDS = 3

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_ROUND = np.uint64(0xD6E8FEB86659FD93)


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    z = values + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def hashable(graphs: MolGraphs) -> np.ndarray:
    """Whether each molecule consists of :data:`SKELETON_ELEMENTS` only (its hash is meaningful)."""
    allowed = np.zeros(256, dtype=bool)
    allowed[[z - 1 for z in SKELETON_ELEMENTS]] = True  # the graph stores atomic number - 1
    bad_atom = ~allowed[graphs.x[:, 0]]
    molecule = np.repeat(np.arange(len(graphs)), np.diff(graphs.atom_ptr))
    bad = np.zeros(len(graphs), dtype=bool)
    bad[molecule[bad_atom]] = True
    return ~bad & (np.diff(graphs.atom_ptr) > 0)


def skeleton_hashes(graphs: MolGraphs) -> np.ndarray:
    """One signed 64-bit hash per molecule of ``graphs`` (see the module docstring)."""
    n_atoms = np.diff(graphs.atom_ptr)
    molecule = np.repeat(np.arange(len(graphs)), n_atoms)
    offsets = np.repeat(graphs.atom_ptr[:-1], np.diff(graphs.edge_ptr))
    src = graphs.edge_index[0] + offsets
    dst = graphs.edge_index[1] + offsets
    with np.errstate(over="ignore"):
        labels = _mix(graphs.x[:, 0].astype(np.uint64))
        for _ in range(ROUNDS):
            neighbours = np.zeros_like(labels)
            np.add.at(neighbours, dst, _mix(labels[src]))  # a multiset sum: independent of edge order
            labels = _mix(labels * _ROUND + neighbours)
        total = np.zeros(len(graphs), dtype=np.uint64)
        np.add.at(total, molecule, _mix(labels))
        total = _mix(total + n_atoms.astype(np.uint64))
    return total.view(np.int64)
