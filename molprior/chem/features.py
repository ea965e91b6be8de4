"""OGB-style categorical atom and bond features: the vocabulary and the exact reference.

Each feature is a small integer index (for an embedding table), as in the Open Graph
Benchmark's ``atom_to_feature_vector``/``bond_to_feature_vector``: values outside a
feature's list fall into its last ("misc") slot.  :func:`reference_graph` computes them
atom by atom through RDKit's API; it is the definition the fast featuriser in
:mod:`molprior.chem.featurize` is tested against.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem

#: Bumped whenever the features change, so cached graphs are never reused across versions.
FEATURIZER_VERSION = "ogb-1"

ATOM_FEATURES = (
    "atomic_num",  # 1..118 -> 0..117, misc 118
    "chirality",  # unspecified, CW, CCW, other, misc
    "degree",  # total degree 0..10, misc
    "formal_charge",  # -5..5, misc
    "num_hs",  # total Hs 0..8, misc
    "num_radical_electrons",  # 0..4, misc
    "hybridization",  # SP, SP2, SP3, SP3D, SP3D2, misc
    "is_aromatic",
    "is_in_ring",
)
ATOM_FEATURE_DIMS = (119, 5, 12, 12, 10, 6, 6, 2, 2)

BOND_FEATURES = ("bond_type", "stereo", "is_conjugated")
BOND_FEATURE_DIMS = (5, 6, 2)  # single/double/triple/aromatic/misc; none/Z/E/cis/trans/any

_HYB = Chem.HybridizationType
HYBRIDIZATION_INDEX = {_HYB.SP: 0, _HYB.SP2: 1, _HYB.SP3: 2, _HYB.SP3D: 3, _HYB.SP3D2: 4}
_BT = Chem.BondType
BOND_TYPE_INDEX = {_BT.SINGLE: 0, _BT.DOUBLE: 1, _BT.TRIPLE: 2, _BT.AROMATIC: 3}
_BS = Chem.BondStereo
STEREO_INDEX = {_BS.STEREONONE: 0, _BS.STEREOZ: 1, _BS.STEREOE: 2, _BS.STEREOCIS: 3, _BS.STEREOTRANS: 4, _BS.STEREOANY: 5}


def atomic_num_index(z: int) -> int:
    return z - 1 if 1 <= z <= 118 else 118


def chirality_index(tag: int) -> int:
    return tag if 0 <= tag <= 3 else 4


def degree_index(degree: int) -> int:
    return min(degree, 11)


def charge_index(charge: int) -> int:
    return charge + 5 if -5 <= charge <= 5 else 11


def num_hs_index(hs: int) -> int:
    return min(hs, 9)


def radical_index(radicals: int) -> int:
    return min(radicals, 5)


def atom_feature_row(atom: Chem.Atom) -> tuple[int, ...]:
    """The nine feature indices of one atom of a sanitised molecule."""
    return (
        atomic_num_index(atom.GetAtomicNum()),
        chirality_index(int(atom.GetChiralTag())),
        degree_index(atom.GetTotalDegree()),
        charge_index(atom.GetFormalCharge()),
        num_hs_index(atom.GetTotalNumHs()),
        radical_index(atom.GetNumRadicalElectrons()),
        HYBRIDIZATION_INDEX.get(atom.GetHybridization(), 5),
        int(atom.GetIsAromatic()),
        int(atom.IsInRing()),
    )


def bond_feature_row(bond: Chem.Bond) -> tuple[int, int, int]:
    """The three feature indices of one bond of a sanitised molecule."""
    return (
        BOND_TYPE_INDEX.get(bond.GetBondType(), 4),
        STEREO_INDEX.get(bond.GetStereo(), 5),
        int(bond.GetIsConjugated()),
    )


def reference_graph(mol: Chem.Mol) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph arrays of a sanitised molecule, atom by atom (slow, exact).

    Returns ``x`` (uint8, atoms x 9), ``edge_index`` (int64, 2 x 2*bonds, both directions,
    sorted by source then target atom) and ``edge_attr`` (uint8, 2*bonds x 3).
    """
    x = np.array([atom_feature_row(a) for a in mol.GetAtoms()], dtype=np.uint8).reshape(-1, len(ATOM_FEATURES))
    pairs = []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        row = bond_feature_row(bond)
        pairs.append((i, j, *row))
        pairs.append((j, i, *row))
    pairs.sort()
    table = np.array(pairs, dtype=np.int64).reshape(-1, 2 + len(BOND_FEATURES))
    return x, np.ascontiguousarray(table[:, :2].T), table[:, 2:].astype(np.uint8)
