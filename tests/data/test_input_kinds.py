"""Input kinds: SMILES and peptides featurised into the same graphs, with their ECFP4."""

from __future__ import annotations

import numpy as np
import pytest

from molprior.chem.featurize import featurize_smiles
from molprior.chem.fingerprints import ecfp
from molprior.data.input_kinds import (INPUT_KINDS, InputKind, input_kind, peptide_problem,
                                       register_input_kind)
from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.immunology.peptides import peptide_to_smiles

#: CMV pp65, influenza M1 and HIV gag epitopes.
EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL"]
DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"]


def _same_graphs(a, b) -> None:
    assert a.smiles == b.smiles
    for key in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key), err_msg=key)


def test_smiles_are_featurised_as_featurize_smiles_does():
    graphs, errors = input_kind("smiles").featurise(DRUGS + ["C1CC"], 1, None)
    assert list(errors) == ["C1CC"] and errors["C1CC"]
    _same_graphs(graphs, featurize_smiles(DRUGS).graphs)
    bits, failed = input_kind("smiles").fingerprints(DRUGS, 2048)
    assert not failed and np.array_equal(bits, ecfp(DRUGS))


def test_peptides_are_residue_template_graphs_with_the_ecfp4_of_their_smiles():
    bad = ["siinfekl", "SIINFEKX", "K", "GILG FVFTL"]
    graphs, errors = input_kind("peptide").featurise(EPITOPES + bad, 1, None)
    _same_graphs(graphs, peptide_graphs(EPITOPES).graphs)
    assert list(errors) == bad
    assert errors["siinfekl"].startswith("not a normalised peptide (upper-cased)")
    assert "position 8" in errors["SIINFEKX"] and "length 1" in errors["K"] and "whitespace" in errors["GILG FVFTL"]
    bits, failed = input_kind("peptide").fingerprints(EPITOPES + ["K"], 2048)
    np.testing.assert_array_equal(bits[:3], ecfp([peptide_to_smiles(p) for p in EPITOPES]))
    assert list(failed) == [3] and not bits[3].any()
    assert peptide_problem("SIINFEKL") is None


def test_kinds_are_registered_once_and_an_unknown_one_names_the_known():
    assert {"smiles", "peptide"} <= set(INPUT_KINDS)
    with pytest.raises(ValueError, match="unknown input kind 'protein'; known: smiles, peptide"):
        input_kind("protein")
    with pytest.raises(ValueError, match="already registered"):
        register_input_kind(InputKind("smiles", input_kind("smiles").featurise, input_kind("smiles").fingerprints))
