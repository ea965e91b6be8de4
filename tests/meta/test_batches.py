import numpy as np
import pytest
import torch
from torch_geometric.data import Batch

from molprior.chem.fingerprints import ecfp
from molprior.meta.batches import MoleculeBank

SMILES = ["CCO", "CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O", "[Na+]"]


def test_bank_batches_match_pyg_and_carry_fingerprints():
    bank, errors = MoleculeBank.build(SMILES + ["CCO"], fingerprint_bits=2048)
    assert not errors and len(bank) == 4
    order = np.array([2, 0, 3])
    batch = bank.batch(order)
    reference = Batch.from_data_list([bank.graphs[int(i)] for i in order])
    for key in ("x", "edge_index", "edge_attr", "batch", "ptr"):
        assert torch.equal(getattr(batch, key), getattr(reference, key))
    assert batch.num_graphs == 3
    assert torch.equal(batch.fp, torch.from_numpy(ecfp([SMILES[i] for i in order]).astype(np.float32)))


def test_bank_reports_what_did_not_featurise_and_refuses_unknown_molecules():
    bank, errors = MoleculeBank.build(["CCO", "C1CC"])
    assert list(errors) == ["C1CC"] and "C1CC" not in bank
    assert bank.batch(bank.indices(["CCO"])).num_graphs == 1 and getattr(bank.batch([0]), "fp", None) is None
    with pytest.raises(KeyError, match="did not featurise"):
        bank.indices(["C1CC"])


def test_a_subset_bank_holds_the_same_features():
    bank, _ = MoleculeBank.build(SMILES, fingerprint_bits=2048)
    small = bank.subset([SMILES[3], SMILES[1], SMILES[3]])
    assert len(small) == 2 and small.graphs.smiles == [SMILES[3], SMILES[1]]
    for key in ("x", "edge_index", "edge_attr", "fp"):
        assert torch.equal(getattr(small.batch(small.indices([SMILES[1]])), key),
                           getattr(bank.batch(bank.indices([SMILES[1]])), key))
    with pytest.raises(KeyError, match="not in the bank"):
        bank.subset(["CCCC"])
    # other fingerprints asked for: computed for the subset, as a bank built with them holds
    built, _ = MoleculeBank.build([SMILES[3], SMILES[1]], fingerprint_bits=1024)
    np.testing.assert_array_equal(bank.subset([SMILES[3], SMILES[1]], 1024).fingerprints, built.fingerprints)
    assert bank.subset([SMILES[1]], 0).fingerprints is None
    assert bank.subset([SMILES[1]], 2048).fingerprints.shape == (1, 2048)


def test_a_peptide_bank_holds_peptide_graphs_and_keeps_its_kind():
    from molprior.immunology.peptide_graphs import peptide_graphs
    from molprior.immunology.peptides import peptide_to_smiles

    peptides = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL"]
    bank, errors = MoleculeBank.build(peptides + ["NLVPMVATV", "nlvpmvatv"], fingerprint_bits=2048, kind="peptide")
    assert list(errors) == ["nlvpmvatv"] and len(bank) == 3 and bank.kind == "peptide"
    assert np.array_equal(bank.graphs.x, peptide_graphs(peptides).graphs.x)
    assert np.array_equal(bank.fingerprints, ecfp([peptide_to_smiles(p) for p in peptides]))
    sub = bank.subset(["SLYNTVATL"])
    assert sub.kind == "peptide" and sub.batch([0]).num_graphs == 1
