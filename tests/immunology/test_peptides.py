"""Tests for molprior.immunology.peptides: sequence checks with positions, sequence/HELM -> RDKit."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import rdMolDescriptors

from molprior.immunology.peptides import (
    DEFAULT_LENGTHS,
    STANDARD_RESIDUES,
    PeptideCheck,
    check_peptide,
    helm_to_mol,
    peptide_to_mol,
    peptide_to_smiles,
)

MHC = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"

# SIINFEKL: ovalbumin 257-264 (H-2Kb); GILGFVFTL: influenza M1 58-66 (HLA-A*02:01);
# NLVPMVATV: CMV pp65 495-503 (HLA-A*02:01).  Molecular formulas from the residue compositions.
PEPTIDES = {
    "SIINFEKL": "C45H74N10O13",
    "GILGFVFTL": "C49H75N9O11",
    "NLVPMVATV": "C42H74N10O12S",
}

# --- check_peptide ---------------------------------------------------------------------------


@pytest.mark.parametrize("peptide", list(PEPTIDES) + ["ACDEFGHIKLMNPQRSTVWY"[:15]])
def test_valid_peptides_pass_unchanged(peptide):
    result = check_peptide(peptide)
    assert result.ok
    assert result.peptide == peptide and result.reason is None and result.notes == ()


def test_lower_case_is_upper_cased_with_a_note():
    result = check_peptide("siinfekl")
    assert result.peptide == "SIINFEKL"
    assert result.notes == ("upper-cased",)
    assert result.input == "siinfekl"
    assert check_peptide("GilGfVFtL").peptide == "GILGFVFTL"


def test_surrounding_whitespace_is_removed_with_a_note():
    result = check_peptide("  NLVPMVATV\n")
    assert result.peptide == "NLVPMVATV"
    assert result.notes == ("whitespace removed",)
    assert result.input == "  NLVPMVATV\n"
    both = check_peptide("\tsiinfekl ")
    assert both.peptide == "SIINFEKL" and both.notes == ("whitespace removed", "upper-cased")


@pytest.mark.parametrize(
    "peptide, reason",
    [
        ("SIINFEK*", "stop codon '*' at position 8"),
        ("*IINFEKL", "stop codon '*' at position 1"),
        ("SIINXEKL", "unknown residue X at position 5"),
        ("GILGFVFTX", "unknown residue X at position 9"),
        ("SUINFEKL", "non-standard residue U (selenocysteine) at position 2"),
        ("NLVBMVATV", "ambiguous residue B (D or N) at position 4"),
        ("NLVPMVATZ", "ambiguous residue Z (E or Q) at position 9"),
        ("SIJNFEKL", "ambiguous residue J (I or L) at position 3"),
        ("GILGFVOTL", "non-standard residue O (pyrrolysine) at position 7"),
        ("SIIN3EKL", "digit '3' at position 5"),
        ("1SIINFEKL", "digit '1' at position 1"),
        ("SIIN FEKL", "whitespace inside the sequence at position 5"),
        ("SIIN-FEKL", "invalid character '-' at position 5"),
        ("SIINFEKL.", "invalid character '.' at position 9"),
        ("siinxekl", "unknown residue X at position 5"),  # lower case is upper-cased first
        ("  SIIN*EKL", "stop codon '*' at position 5"),  # positions count after stripping
    ],
)
def test_rejections_name_the_residue_and_its_position(peptide, reason):
    result = check_peptide(peptide)
    assert not result.ok
    assert result.peptide is None
    assert result.reason == reason
    assert result.input == peptide


def test_first_bad_position_is_reported():
    assert check_peptide("SXINFEK*").reason == "unknown residue X at position 2"


@pytest.mark.parametrize(
    "peptide, length",
    [("SIINFEK", 7), ("SIIN", 4), ("G", 1), ("GILGFVFTLGILGFVF", 16), ("A" * 30, 30)],
)
def test_length_outside_the_default_range(peptide, length):
    low, high = DEFAULT_LENGTHS
    result = check_peptide(peptide)
    assert result.peptide is None
    assert result.reason == f"length {length} outside the supported range {low}-{high}"


def test_length_bounds_are_inclusive():
    low, high = DEFAULT_LENGTHS
    assert (low, high) == (8, 15)
    assert check_peptide("A" * low).ok and check_peptide("A" * high).ok
    assert not check_peptide("A" * (low - 1)).ok and not check_peptide("A" * (high + 1)).ok


def test_custom_length_range():
    assert check_peptide("SIIN", lengths=(4, 6)).peptide == "SIIN"
    assert check_peptide("SIINFEKL", lengths=(4, 6)).reason == "length 8 outside the supported range 4-6"
    assert check_peptide("ACDEFGHIKLMNPQRSTVWY", lengths=(9, 25)).ok
    assert check_peptide("SIINFEKL", lengths=(9, 25)).reason == "length 8 outside the supported range 9-25"


@pytest.mark.parametrize("value", ["", "   ", None, float("nan")])
def test_empty_or_missing_peptide(value):
    result = check_peptide(value)
    assert result.peptide is None
    assert result.reason == "empty peptide"


def test_residue_checks_come_before_length_checks():
    assert check_peptide("SIX").reason == "unknown residue X at position 3"


def test_peptide_check_ok_property():
    assert PeptideCheck("SIINFEKL", "SIINFEKL").ok
    assert not PeptideCheck("x", None, "invalid").ok


def test_real_mhc_ligands_pass():
    peptides = pd.read_csv(MHC)["peptide"].drop_duplicates()
    sample = peptides[peptides.str.len().between(*DEFAULT_LENGTHS)].sample(500, random_state=0)
    results = [check_peptide(p) for p in sample]
    assert all(r.ok and r.peptide == p for r, p in zip(results, sample))


# --- sequence -> molecule --------------------------------------------------------------------


@pytest.mark.parametrize("peptide, formula", PEPTIDES.items())
def test_peptide_to_mol_builds_the_right_molecule(peptide, formula):
    mol = peptide_to_mol(peptide)
    assert Chem.MolToSequence(mol) == peptide
    assert rdMolDescriptors.CalcMolFormula(mol) == formula
    # n residues: n - 1 backbone amides (secondary, or tertiary at Pro; Asn's side-chain NH2 is not matched)
    amide = Chem.MolFromSmarts("C(=O)[NX3;H1,H0]")
    assert len(mol.GetSubstructMatches(amide)) == len(peptide) - 1
    # every residue but Gly has an alpha-carbon stereo centre
    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True)
    expected = sum(r != "G" for r in peptide) + sum(r in "IT" for r in peptide)  # Ile/Thr: two centres
    assert len(centres) == expected


def test_siinfekl_has_eight_residues_and_l_stereo():
    mol = peptide_to_mol("SIINFEKL")
    assert mol.GetNumHeavyAtoms() == 68
    assert len(Chem.MolToSequence(mol)) == 8
    backbone = Chem.MolFromSmarts("[NX3][CX4H]C(=O)")
    assert len(mol.GetSubstructMatches(backbone)) == 8
    # L-residues: every alpha carbon is S here (no Cys), and L-Ile is (2S,3S): 8 + 2 centres, all S
    centres = Chem.FindMolChiralCenters(mol, includeUnassigned=True)
    assert [label for _, label in centres] == ["S"] * 10


def test_peptide_to_smiles_is_canonical_and_round_trips():
    for peptide in PEPTIDES:
        smiles = peptide_to_smiles(peptide)
        mol = Chem.MolFromSmiles(smiles)
        assert mol is not None
        assert Chem.MolToSmiles(mol) == smiles
        assert rdMolDescriptors.CalcMolFormula(mol) == PEPTIDES[peptide]
    assert peptide_to_smiles("G") == "NCC(=O)O"
    assert peptide_to_smiles("GG") == "NCC(=O)NCC(=O)O"


def test_different_sequences_give_different_molecules():
    assert peptide_to_smiles("SIINFEKL") != peptide_to_smiles("SIINFEKI")  # Leu vs Ile: same formula
    assert peptide_to_smiles("GILGFVFTL") != peptide_to_smiles("LTFVFGLIG")  # reversed


def test_real_mhc_ligands_round_trip():
    peptides = pd.read_csv(MHC)["peptide"].drop_duplicates()
    rng = random.Random(5)
    sample = rng.sample([p for p in peptides if check_peptide(p).ok], 40)
    for peptide in sample:
        assert Chem.MolToSequence(peptide_to_mol(peptide)) == peptide


@pytest.mark.parametrize("bad", ["", "siinfekl", "SIINXEKL", "SIIN FEKL", "SIINFEK*", "SIINFEKLU"])
def test_peptide_to_mol_rejects_non_standard_input(bad):
    with pytest.raises(ValueError, match="not a sequence of standard residues"):
        peptide_to_mol(bad)
    with pytest.raises(ValueError):
        peptide_to_smiles(bad)


def test_standard_residue_set():
    assert STANDARD_RESIDUES == frozenset("ACDEFGHIKLMNPQRSTVWY")


# --- HELM ------------------------------------------------------------------------------------


@pytest.mark.parametrize("peptide", list(PEPTIDES))
def test_helm_equals_the_sequence_route_for_plain_peptides(peptide):
    helm = "PEPTIDE1{" + ".".join(peptide) + "}$$$$"
    assert Chem.MolToSmiles(helm_to_mol(helm)) == peptide_to_smiles(peptide)


def test_helm_with_a_d_amino_acid():
    d_form = helm_to_mol("PEPTIDE1{A.[dA].K}$$$$")
    l_form = helm_to_mol("PEPTIDE1{A.A.K}$$$$")
    assert rdMolDescriptors.CalcMolFormula(d_form) == rdMolDescriptors.CalcMolFormula(l_form) == "C12H24N4O4"
    assert Chem.MolToSmiles(d_form) != Chem.MolToSmiles(l_form)  # only the stereo differs
    flat = [Chem.MolToSmiles(m, isomericSmiles=False) for m in (d_form, l_form)]
    assert flat[0] == flat[1]


def test_helm_with_ornithine_and_norleucine():
    # SIINFE[Orn]L: ornithine has one CH2 less than lysine
    orn = helm_to_mol("PEPTIDE1{S.I.I.N.F.E.[Orn].L}$$$$")
    assert rdMolDescriptors.CalcMolFormula(orn) == "C44H72N10O13"
    nle = helm_to_mol("PEPTIDE1{A.[Nle].K}$$$$")
    assert rdMolDescriptors.CalcMolFormula(nle) == "C15H30N4O4"


@pytest.mark.parametrize("bad", ["", "nonsense", "SIINFEKL", "PEPTIDE1{A.[NoSuchMonomer].K}$$$$"])
def test_helm_errors(bad):
    with pytest.raises(ValueError, match="RDKit could not read HELM"):
        helm_to_mol(bad)
