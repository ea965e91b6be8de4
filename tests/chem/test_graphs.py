"""Tests for molprior.chem.graphs.MolGraphs: packing, concatenation, selection, PyG Data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Data

from molprior.chem.features import reference_graph
from molprior.chem.graphs import MolGraphs, concatenated_ranges

MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "CCO", "[Na+]", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "C"]


def _graph(smiles):
    return reference_graph(Chem.MolFromSmiles(smiles))


@pytest.fixture()
def store() -> MolGraphs:
    return MolGraphs.from_arrays(MOLECULES, [_graph(s) for s in MOLECULES])


def _assert_graph(store: MolGraphs, i: int, smiles: str) -> None:
    assert store.smiles[i] == smiles
    for got, want in zip(store.arrays(i), _graph(smiles)):
        assert got.shape == want.shape
        assert np.array_equal(got, want)


def test_from_arrays_packs_offsets(store):
    assert len(store) == 5
    assert store.atom_ptr.tolist() == [0, 13, 16, 17, 31, 32]
    assert store.edge_ptr.tolist() == [0, 26, 30, 30, 60, 60]
    assert store.x.shape == (32, 9) and store.x.dtype == np.uint8
    assert store.edge_index.shape == (2, 60) and store.edge_index.dtype == np.int64
    assert store.edge_attr.shape == (60, 3) and store.edge_attr.dtype == np.uint8
    for i, smiles in enumerate(MOLECULES):
        _assert_graph(store, i, smiles)


def test_edge_indices_stay_local_to_each_graph(store):
    _, edge_index, _ = store.arrays(3)  # caffeine: 14 atoms
    assert edge_index.min() == 0 and edge_index.max() == 13


def test_empty_store():
    empty = MolGraphs.empty()
    assert len(empty) == 0
    assert empty.x.shape == (0, 9) and empty.edge_index.shape == (2, 0) and empty.edge_attr.shape == (0, 3)
    assert empty.atom_ptr.tolist() == [0] and empty.edge_ptr.tolist() == [0]
    assert len(MolGraphs.from_arrays([], [])) == 0
    assert empty.to_data_list() == []
    assert len(empty.select(np.zeros(0, dtype=np.int64))) == 0


def test_concat_keeps_graphs_and_shifts_offsets(store):
    a = MolGraphs.from_arrays(MOLECULES[:2], [_graph(s) for s in MOLECULES[:2]])
    b = MolGraphs.from_arrays(MOLECULES[2:], [_graph(s) for s in MOLECULES[2:]])
    joined = MolGraphs.concat([a, MolGraphs.empty(), b])
    assert joined.smiles == MOLECULES
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        assert np.array_equal(getattr(joined, name), getattr(store, name)), name
    for i, smiles in enumerate(MOLECULES):
        _assert_graph(joined, i, smiles)


def test_concat_of_nothing_and_of_empties():
    assert len(MolGraphs.concat([])) == 0
    assert len(MolGraphs.concat([MolGraphs.empty(), MolGraphs.empty()])) == 0


def test_select_reorders(store):
    order = np.array([3, 0, 4])
    picked = store.select(order)
    assert picked.smiles == [MOLECULES[3], MOLECULES[0], MOLECULES[4]]
    assert picked.atom_ptr.tolist() == [0, 14, 27, 28]
    for k, i in enumerate(order):
        _assert_graph(picked, k, MOLECULES[i])


def test_select_with_repeats(store):
    picked = store.select([1, 1, 2, 1, 0, 0])
    assert picked.smiles == [MOLECULES[i] for i in (1, 1, 2, 1, 0, 0)]
    assert picked.atom_ptr.tolist() == [0, 3, 6, 7, 10, 23, 36]
    assert picked.edge_ptr.tolist() == [0, 4, 8, 8, 12, 38, 64]
    for k, i in enumerate((1, 1, 2, 1, 0, 0)):
        _assert_graph(picked, k, MOLECULES[i])


def test_select_of_nothing(store):
    picked = store.select(np.zeros(0, dtype=np.int64))
    assert len(picked) == 0
    assert picked.x.shape == (0, 9) and picked.edge_index.shape == (2, 0)


def test_select_identity_keeps_content(store):
    same = store.select(np.arange(len(store)))
    assert same.smiles == store.smiles and np.array_equal(same.x, store.x)


def test_getitem_gives_pyg_data_with_long_tensors(store):
    data = store[0]
    assert isinstance(data, Data)
    assert data.smiles == MOLECULES[0]
    assert data.x.dtype == torch.long and data.edge_attr.dtype == torch.long and data.edge_index.dtype == torch.long
    x, edge_index, edge_attr = _graph(MOLECULES[0])
    assert torch.equal(data.x, torch.from_numpy(x.astype(np.int64)))
    assert torch.equal(data.edge_index, torch.from_numpy(edge_index))
    assert torch.equal(data.edge_attr, torch.from_numpy(edge_attr.astype(np.int64)))
    assert data.num_nodes == 13 and data.num_edges == 26


def test_getitem_of_an_atom_without_bonds(store):
    data = store[2]
    assert data.smiles == "[Na+]"
    assert tuple(data.x.shape) == (1, 9) and tuple(data.edge_index.shape) == (2, 0)
    assert tuple(data.edge_attr.shape) == (0, 3)


def test_getitem_after_select_uses_the_new_order(store):
    data = store.select([4, 3])[1]
    assert data.smiles == MOLECULES[3]
    assert data.num_nodes == 14


def test_to_data_list(store):
    items = store.to_data_list()
    assert [d.smiles for d in items] == MOLECULES
    assert [d.num_nodes for d in items] == [13, 3, 1, 14, 1]


def test_ranges_helper():
    starts = np.array([5, 0, 9, 2])
    lengths = np.array([2, 3, 0, 1])
    assert concatenated_ranges(starts, lengths).tolist() == [5, 6, 0, 1, 2, 2]
    assert concatenated_ranges(np.array([3]), np.array([0])).tolist() == []
