"""Tests for molprior.chem.features: the vocabulary, the index functions and the reference graph."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molprior.chem import features as F
from molprior.chem.features import (
    ATOM_FEATURE_DIMS,
    ATOM_FEATURES,
    BOND_FEATURE_DIMS,
    BOND_FEATURES,
    FEATURIZER_VERSION,
    reference_graph,
)


def test_vocabulary_sizes_match_feature_names():
    assert len(ATOM_FEATURE_DIMS) == len(ATOM_FEATURES) == 9
    assert len(BOND_FEATURE_DIMS) == len(BOND_FEATURES) == 3
    assert ATOM_FEATURE_DIMS[0] == 119  # 118 elements plus a misc slot
    assert isinstance(FEATURIZER_VERSION, str) and FEATURIZER_VERSION


@pytest.mark.parametrize(
    "function, dim, values",
    [
        (F.atomic_num_index, ATOM_FEATURE_DIMS[0], range(-3, 130)),
        (F.chirality_index, ATOM_FEATURE_DIMS[1], range(-2, 12)),
        (F.degree_index, ATOM_FEATURE_DIMS[2], range(0, 40)),
        (F.charge_index, ATOM_FEATURE_DIMS[3], range(-9, 10)),
        (F.num_hs_index, ATOM_FEATURE_DIMS[4], range(0, 30)),
        (F.radical_index, ATOM_FEATURE_DIMS[5], range(0, 12)),
    ],
)
def test_index_functions_stay_inside_their_vocabulary(function, dim, values):
    indices = [function(v) for v in values]
    assert min(indices) >= 0
    assert max(indices) == dim - 1  # out-of-range values land in the last (misc) slot


def test_index_functions_on_specific_values():
    assert F.atomic_num_index(1) == 0 and F.atomic_num_index(6) == 5 and F.atomic_num_index(118) == 117
    assert F.atomic_num_index(0) == 118 and F.atomic_num_index(119) == 118  # dummy atom, unknown
    assert F.charge_index(0) == 5 and F.charge_index(-1) == 4 and F.charge_index(2) == 7
    assert F.charge_index(-5) == 0 and F.charge_index(5) == 10 and F.charge_index(6) == 11 and F.charge_index(-6) == 11
    assert F.chirality_index(2) == 2 and F.chirality_index(4) == 4 and F.chirality_index(9) == 4
    assert F.degree_index(4) == 4 and F.degree_index(11) == 11 and F.degree_index(12) == 11
    assert F.num_hs_index(3) == 3 and F.num_hs_index(9) == 9 and F.num_hs_index(10) == 9
    assert F.radical_index(1) == 1 and F.radical_index(7) == 5


def test_ethanol_reference_graph_by_hand():
    x, edge_index, edge_attr = reference_graph(Chem.MolFromSmiles("CCO"))
    #              Z-1 chir deg charge Hs rad hyb arom ring
    expected_x = [[5, 0, 4, 5, 3, 0, 2, 0, 0],  # CH3
                  [5, 0, 4, 5, 2, 0, 2, 0, 0],  # CH2
                  [7, 0, 2, 5, 1, 0, 2, 0, 0]]  # OH
    assert x.tolist() == expected_x
    assert edge_index.tolist() == [[0, 1, 1, 2], [1, 0, 2, 1]]
    assert edge_attr.tolist() == [[0, 0, 0]] * 4
    assert x.dtype == np.uint8 and edge_index.dtype == np.int64 and edge_attr.dtype == np.uint8


def test_benzene_reference_graph():
    x, edge_index, edge_attr = reference_graph(Chem.MolFromSmiles("c1ccccc1"))
    assert x.tolist() == [[5, 0, 3, 5, 1, 0, 1, 1, 1]] * 6  # aromatic sp2 CH in a ring
    assert edge_index.shape == (2, 12)
    assert edge_attr.tolist() == [[3, 0, 1]] * 12  # aromatic, no stereo, conjugated


def test_cyclohexane_is_in_a_ring_but_not_aromatic():
    x, _, edge_attr = reference_graph(Chem.MolFromSmiles("C1CCCCC1"))
    assert x.tolist() == [[5, 0, 4, 5, 2, 0, 2, 0, 1]] * 6
    assert edge_attr.tolist() == [[0, 0, 0]] * 12


def test_stereo_charge_radical_and_triple_bond_features():
    x, _, _ = reference_graph(Chem.MolFromSmiles("C[C@H](N)C(=O)O"))  # L-alanine
    assert x[1, 1] == int(Chem.ChiralType.CHI_TETRAHEDRAL_CCW) == 2
    x, _, _ = reference_graph(Chem.MolFromSmiles("C[C@@H](N)C(=O)O"))  # D-alanine
    assert x[1, 1] == int(Chem.ChiralType.CHI_TETRAHEDRAL_CW) == 1

    _, edge_index, edge_attr = reference_graph(Chem.MolFromSmiles("C/C=C/C"))  # (E)-2-butene
    double = (edge_index[0] == 1) & (edge_index[1] == 2)
    assert edge_attr[double].tolist() == [[1, 2, 0]]  # double, E, not conjugated
    _, edge_index, edge_attr = reference_graph(Chem.MolFromSmiles(r"C/C=C\C"))  # (Z)-2-butene
    assert edge_attr[(edge_index[0] == 1) & (edge_index[1] == 2)].tolist() == [[1, 1, 0]]

    x, _, _ = reference_graph(Chem.MolFromSmiles("CC(=O)[O-]"))
    assert x[3, 3] == F.charge_index(-1) == 4
    assert x[3, 4] == 0  # no H on the carboxylate oxygen

    x, _, _ = reference_graph(Chem.MolFromSmiles("[CH2]C"))  # ethyl radical
    assert x[0, 5] == 1 and x[1, 5] == 0

    x, _, edge_attr = reference_graph(Chem.MolFromSmiles("CC#N"))  # acetonitrile
    assert edge_attr[:, 0].tolist() == [0, 0, 2, 2]
    assert x[1, 6] == 0 and x[2, 6] == 0  # sp carbon and nitrogen


def test_misc_slots_for_dummy_atoms_and_dative_bonds():
    x, _, _ = reference_graph(Chem.MolFromSmiles("*C"))
    assert x[0, 0] == 118
    _, _, edge_attr = reference_graph(Chem.MolFromSmiles("C[NH2]->[Pt]"))
    dative = edge_attr[:, 0]
    assert 4 in dative.tolist()  # a dative bond is not single/double/triple/aromatic


def test_reference_graph_edges_are_sorted_and_symmetric(real_canonical_smiles):
    for smiles in real_canonical_smiles[:200]:
        mol = Chem.MolFromSmiles(smiles)
        x, edge_index, edge_attr = reference_graph(mol)
        assert x.shape == (mol.GetNumAtoms(), 9)
        assert edge_index.shape == (2, 2 * mol.GetNumBonds())
        pairs = list(zip(edge_index[0].tolist(), edge_index[1].tolist()))
        assert pairs == sorted(pairs)
        attr = {pair: tuple(row) for pair, row in zip(pairs, edge_attr.tolist())}
        assert all(attr[(j, i)] == row for (i, j), row in attr.items())


def test_reference_graph_of_an_atom_without_bonds():
    x, edge_index, edge_attr = reference_graph(Chem.MolFromSmiles("[Na+]"))
    assert x.shape == (1, 9) and x[0, 0] == 10 and x[0, 3] == 6
    assert edge_index.shape == (2, 0) and edge_index.dtype == np.int64
    assert edge_attr.shape == (0, 3) and edge_attr.dtype == np.uint8


def test_reference_values_inside_the_vocabulary(real_canonical_smiles):
    atom_max = np.zeros(9, dtype=int)
    bond_max = np.zeros(3, dtype=int)
    for smiles in real_canonical_smiles[:300]:
        x, _, edge_attr = reference_graph(Chem.MolFromSmiles(smiles))
        atom_max = np.maximum(atom_max, x.max(0))
        if len(edge_attr):
            bond_max = np.maximum(bond_max, edge_attr.max(0))
    assert (atom_max < np.array(ATOM_FEATURE_DIMS)).all()
    assert (bond_max < np.array(BOND_FEATURE_DIMS)).all()
