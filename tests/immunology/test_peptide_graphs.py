"""Peptide graphs from residue templates against RDKit's all-atom peptides, on real MHC ligands."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from molprior.chem.features import reference_graph
from molprior.immunology.peptide_graphs import peptide_graphs

MHC_FILE = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
#: Well-known epitopes: CMV pp65, influenza M1, HIV gag, and two HLA-A*02:01 ligands.
EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]


@pytest.fixture(scope="module")
def real_peptides() -> list[str]:
    """200 distinct real MHC ligands of lengths 8-15, 25 of each length where the data has them."""
    table = pd.read_csv(MHC_FILE, usecols=["peptide"]).drop_duplicates()
    lengths = table["peptide"].str.len()
    picks = [table[lengths == n].sample(min(25, int((lengths == n).sum())), random_state=n)["peptide"]
             for n in range(8, 16)]
    return pd.concat(picks).tolist()


def _edges(edge_index: np.ndarray, edge_attr: np.ndarray) -> list[tuple[int, ...]]:
    return sorted(tuple(row) for row in np.c_[edge_index.T, edge_attr].tolist())


def _assert_graph_matches_rdkit(graphs, i: int, peptide: str) -> None:
    mol = Chem.MolFromSequence(peptide)
    x, edge_index, edge_attr = reference_graph(mol)
    g = graphs.graphs
    atoms = slice(g.atom_ptr[i], g.atom_ptr[i + 1])
    edges = slice(g.edge_ptr[i], g.edge_ptr[i + 1])
    np.testing.assert_array_equal(g.x[atoms], x, err_msg=peptide)  # same rows, same order
    assert _edges(g.edge_index[:, edges], g.edge_attr[edges]) == _edges(edge_index, edge_attr), peptide
    residue = [a.GetPDBResidueInfo().GetResidueNumber() - 1 for a in mol.GetAtoms()]
    np.testing.assert_array_equal(graphs.residue[atoms], residue, err_msg=peptide)


def test_real_ligands_equal_rdkit_peptides_exactly(real_peptides):
    peptides = EPITOPES + real_peptides
    graphs = peptide_graphs(peptides)
    assert len(graphs) == len(peptides) and graphs.graphs.smiles == peptides
    np.testing.assert_array_equal(graphs.lengths, [len(p) for p in peptides])
    for i, peptide in enumerate(peptides):
        _assert_graph_matches_rdkit(graphs, i, peptide)


def test_every_residue_in_every_role_equals_rdkit():
    """Each of the 20 residues at the N-terminus, inside and at the C-terminus (glycine and
    proline, whose backbones differ, included), and every dipeptide (both residues terminal)."""
    peptides = [a + b for a in AMINO_ACIDS for b in AMINO_ACIDS]
    peptides += ["G" + a + "P" for a in AMINO_ACIDS] + ["P" + a + a + "G" for a in AMINO_ACIDS]
    graphs = peptide_graphs(peptides)
    for i, peptide in enumerate(peptides):
        _assert_graph_matches_rdkit(graphs, i, peptide)


def test_batch_layout_and_edges_stay_inside_their_peptide():
    graphs = peptide_graphs(EPITOPES)
    g = graphs.graphs
    assert g.x.dtype == np.uint8 and g.edge_index.dtype == np.int64 and g.edge_attr.dtype == np.uint8
    assert g.atom_ptr[0] == 0 and g.atom_ptr[-1] == len(g.x) == len(graphs.residue)
    assert g.edge_ptr[-1] == g.edge_index.shape[1] == len(g.edge_attr)
    for i in range(len(EPITOPES)):
        local = g.edge_index[:, g.edge_ptr[i]:g.edge_ptr[i + 1]]
        assert local.min() >= 0 and local.max() < g.atom_ptr[i + 1] - g.atom_ptr[i]  # local atom indices
        assert graphs.residue[g.atom_ptr[i]:g.atom_ptr[i + 1]].max() == len(EPITOPES[i]) - 1
    # a peptide's graph does not depend on the peptides beside it
    alone = peptide_graphs([EPITOPES[2]]).graphs
    np.testing.assert_array_equal(alone.x, g.x[g.atom_ptr[2]:g.atom_ptr[3]])
    np.testing.assert_array_equal(alone.edge_index, g.edge_index[:, g.edge_ptr[2]:g.edge_ptr[3]])


def test_empty_list_and_invalid_peptides():
    empty = peptide_graphs([])
    assert len(empty) == 0 and empty.graphs.x.shape == (0, 9) and empty.graphs.edge_index.shape == (2, 0)
    with pytest.raises(ValueError, match="at least two residues"):
        peptide_graphs(["SLYNTVATL", "K"])
    for bad in ["SLYNXVATL", "slyntvatl", "SLYN*VATL", "SLYNBVATL"]:
        with pytest.raises(ValueError, match="standard residue"):
            peptide_graphs([bad])


def test_a_block_is_the_graphs_of_its_peptides():
    whole = peptide_graphs(EPITOPES)
    part, alone = whole.block(1, 4), peptide_graphs(EPITOPES[1:4])
    assert part.graphs.smiles == alone.graphs.smiles == EPITOPES[1:4]
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(part.graphs, name), getattr(alone.graphs, name), err_msg=name)
    np.testing.assert_array_equal(part.residue, alone.residue)
    np.testing.assert_array_equal(part.lengths, alone.lengths)
