"""Tests for molprior.chem.standardize: every rejection reason, salts, charges, normalisations."""

from __future__ import annotations

import random

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from molprior.chem.standardize import (
    DEFAULT_MAX_HEAVY_ATOMS,
    StandardizeOptions,
    Standardized,
    canonical_smiles,
    cleanup,
    parse_problem,
    standardize_smiles,
)

SULFOXIDE = Chem.MolFromSmarts("[#16X3]=[OX1]")  # RDKit's cleanup writes these as [S+][O-]


# --- rejections -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "   ", "\t\n"])
def test_empty_and_whitespace_only_are_rejected(value):
    result = standardize_smiles(value)
    assert not result.ok
    assert result.smiles is None
    assert result.reason == "empty SMILES"
    assert result.input == value


@pytest.mark.parametrize("value", [None, float("nan"), np.float64("nan")])
def test_missing_values_are_rejected(value):
    result = standardize_smiles(value)
    assert not result.ok
    assert result.reason == "missing SMILES"


@pytest.mark.parametrize("value", ["not a smiles", "aspirin", "C1CC", "CC(C", "C%%O", "[Xx]"])
def test_garbage_text_is_a_syntax_error(value):
    result = standardize_smiles(value)
    assert result.smiles is None
    assert result.reason == "unparseable SMILES (syntax error)"
    assert result.input == value


@pytest.mark.parametrize("value", ["CC(C)(C)(C)(C)C", "C[N](C)(C)(C)C", "FC(F)(F)(F)(F)F"])
def test_valence_error_is_reported(value):
    result = standardize_smiles(value)
    assert result.smiles is None
    assert result.reason.startswith("valence error: ")
    assert "valence" in result.reason.split(": ", 1)[1].lower()


@pytest.mark.parametrize("value", ["c1cccc1", "c1ccccn1C", "c1ccc2c(c1)ccc2"])
def test_kekulisation_failure_is_reported(value):
    result = standardize_smiles(value)
    assert result.smiles is None
    assert result.reason.startswith("kekulisation failure: ")


@pytest.mark.parametrize(
    "smiles, heavy",
    [
        ("C" * 3000, 3000),  # a long alkane
        ("CC(c1ccccc1)" * 400, 3200),  # polystyrene-like chain of 400 styrene units
        ("OCC" * 1000 + "O", 3001),  # PEG-like polyether
    ],
)
def test_too_many_heavy_atoms(smiles, heavy):
    result = standardize_smiles(smiles)
    assert result.smiles is None
    assert result.reason == f"too large: {heavy} heavy atoms (limit {DEFAULT_MAX_HEAVY_ATOMS})"


def test_heavy_atom_limit_is_inclusive():
    assert standardize_smiles("C" * DEFAULT_MAX_HEAVY_ATOMS).smiles == "C" * DEFAULT_MAX_HEAVY_ATOMS
    over = standardize_smiles("C" * (DEFAULT_MAX_HEAVY_ATOMS + 1))
    assert over.smiles is None
    assert over.reason == f"too large: {DEFAULT_MAX_HEAVY_ATOMS + 1} heavy atoms (limit {DEFAULT_MAX_HEAVY_ATOMS})"


def test_custom_heavy_atom_limit():
    options = StandardizeOptions(max_heavy_atoms=12)
    assert standardize_smiles("CC(=O)Oc1ccccc1C(=O)O", options).smiles is None  # aspirin: 13 heavy atoms
    assert standardize_smiles("CC(=O)Oc1ccccc1C(=O)O", options).reason == "too large: 13 heavy atoms (limit 12)"
    assert standardize_smiles("CC(=O)Nc1ccc(O)cc1", options).ok  # paracetamol: 11


def test_non_utf8_replacement_character_is_rejected():
    text = b"CC(=O)Oc1cc\xffccc1C(=O)O".decode("utf-8", errors="replace")
    assert "\ufffd" in text
    result = standardize_smiles(text)
    assert result.smiles is None
    assert result.reason == "invalid UTF-8 bytes in SMILES"


def test_replacement_character_in_the_name_part_is_also_rejected():
    result = standardize_smiles("CCO eth\ufffdnol")
    assert result.reason == "invalid UTF-8 bytes in SMILES"


@pytest.mark.parametrize("value", ["[H][H]", "[H]", "*"])
def test_molecules_without_heavy_atoms_are_rejected(value):
    result = standardize_smiles(value)
    assert result.smiles is None
    assert result.reason == "no heavy atoms"


def test_parse_problem_names_the_kind_of_failure():
    assert parse_problem("C1CC") == "unparseable SMILES (syntax error)"
    assert parse_problem("CC(C)(C)(C)(C)C").startswith("valence error: ")
    kekulize = parse_problem("c1cccc1")
    assert kekulize.startswith("kekulisation failure: ")
    assert "0 1 2 3 4" in kekulize  # RDKit lists the atoms it could not kekulise


def test_a_rejection_never_raises_on_odd_python_objects():
    for value in (123, 4.5, b"CCO", ("CCO",)):
        result = standardize_smiles(value)
        assert isinstance(result, Standardized)
        assert result.smiles is None
        assert result.reason == "unparseable SMILES (syntax error)"


# --- fragments and charges ----------------------------------------------------------------


@pytest.mark.parametrize(
    "salt, parent",
    [
        ("CN(C)C(=N)NC(=N)N.Cl", "CN(C)C(=N)NC(=N)N"),  # metformin hydrochloride
        ("CC(=O)Oc1ccccc1C(=O)O.Cl", "CC(=O)Oc1ccccc1C(=O)O"),
        ("OC(=O)c1ccccc1.O.O.O", "O=C(O)c1ccccc1"),  # hydrate
        ("Cl.Cl.CN1CCN(Cc2ccc(C(=O)Nc3ccc(C)c(Nc4nccc(-c5cccnc5)n4)c3)cc2)CC1",
         "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1"),  # imatinib dihydrochloride
    ],
)
def test_salts_and_solvents_are_stripped(salt, parent):
    result = standardize_smiles(salt)
    assert result.smiles == parent
    assert result.notes == ("kept largest fragment",)


def test_sodium_salt_is_stripped_and_neutralised():
    result = standardize_smiles("O=C([O-])Cc1ccccc1Nc1c(Cl)cccc1Cl.[Na+]")  # diclofenac sodium
    assert result.smiles == "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl"
    assert result.notes == ("kept largest fragment", "neutralised")
    assert result.reason is None and result.ok


@pytest.mark.parametrize(
    "charged, neutral",
    [
        ("CC(=O)[O-]", "CC(=O)O"),
        ("C[NH3+]", "CN"),
        ("[NH3+][C@@H](C)C(=O)[O-]", "C[C@H](N)C(=O)O"),  # L-alanine zwitterion keeps its stereo
    ],
)
def test_neutralisation_is_noted(charged, neutral):
    result = standardize_smiles(charged)
    assert result.smiles == neutral
    assert result.notes == ("neutralised",)


def test_quaternary_ammonium_keeps_its_charge_without_a_neutralised_note():
    result = standardize_smiles("CC(=O)OCC[N+](C)(C)C.[Cl-]")  # acetylcholine chloride
    assert result.smiles == "CC(=O)OCC[N+](C)(C)C"
    assert result.notes == ("kept largest fragment",)


def test_largest_fragment_false_keeps_every_fragment():
    options = StandardizeOptions(largest_fragment=False)
    result = standardize_smiles("CN(C)C(=N)NC(=N)N.Cl", options)
    assert result.smiles == "CN(C)C(=N)NC(=N)N.Cl"
    assert "kept largest fragment" not in result.notes
    hydrate = standardize_smiles("OC(=O)c1ccccc1.O.O.O", options).smiles
    assert sorted(hydrate.split(".")) == ["O", "O", "O", "O=C(O)c1ccccc1"]


def test_neutralize_false_keeps_charges():
    options = StandardizeOptions(neutralize=False)
    result = standardize_smiles("O=C([O-])Cc1ccccc1Nc1c(Cl)cccc1Cl.[Na+]", options)
    assert result.smiles == "O=C([O-])Cc1ccccc1Nc1c(Cl)cccc1Cl"
    assert result.notes == ("kept largest fragment",)
    zwitterion = standardize_smiles("[NH3+][C@@H](C)C(=O)[O-]", options)
    assert zwitterion.smiles == "C[C@H]([NH3+])C(=O)[O-]"
    assert zwitterion.notes == ()


# --- normalisations ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "nitro, expected",
    [
        ("CN(=O)=O", "C[N+](=O)[O-]"),  # pentavalent nitrogen form
        ("O=N(=O)c1ccc(cc1)C", "Cc1ccc([N+](=O)[O-])cc1"),
        ("C[N+]([O-])=O", "C[N+](=O)[O-]"),  # already charge-separated: unchanged
    ],
)
def test_nitro_groups_are_normalised_to_the_charge_separated_form(nitro, expected):
    result = standardize_smiles(nitro)
    assert result.smiles == expected
    assert "neutralised" not in result.notes  # the nitro charges are not "neutralised" away


def test_kekule_input_becomes_aromatic():
    assert standardize_smiles("C1=CC=CC=C1").smiles == "c1ccccc1"
    assert standardize_smiles("CC(=O)OC1=CC=CC=C1C(O)=O").smiles == "CC(=O)Oc1ccccc1C(=O)O"


def test_canonical_tautomer_is_off_by_default_and_available():
    assert standardize_smiles("Oc1ccccn1").smiles == "Oc1ccccn1"
    tautomer = standardize_smiles("Oc1ccccn1", StandardizeOptions(canonical_tautomer=True)).smiles
    assert tautomer == "O=c1cccc[nH]1"


# --- names, whitespace, canonical output ---------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["CC(=O)Oc1ccccc1C(=O)O aspirin", "CC(=O)Oc1ccccc1C(=O)O\tASA 500 mg", "  CC(=O)Oc1ccccc1C(=O)O  \n",
     "OC(=O)C1=CC=CC=C1OC(C)=O acetylsalicylic acid",
     "CC(=O)Oc1ccccc1C(=O)O\u00a0aspirin",  # no-break space: RDKit alone would not split here
     "CC(=O)Oc1ccccc1C(=O)O\u2003aspirin"],  # em space
)
def test_name_after_whitespace_is_ignored(text):
    result = standardize_smiles(text)
    assert result.smiles == "CC(=O)Oc1ccccc1C(=O)O"
    assert result.input == text  # the raw input is kept for the report


def test_drugs_are_unchanged(drugs):
    for name, smiles in drugs.items():
        result = standardize_smiles(smiles)
        assert result.smiles == smiles, name
        assert result.notes == (), name


def _is_clean(mol: Chem.Mol) -> bool:
    return (
        len(Chem.GetMolFrags(mol)) == 1
        and not any(atom.GetFormalCharge() for atom in mol.GetAtoms())
        and not mol.HasSubstructMatch(SULFOXIDE)
    )


def test_clean_real_molecules_come_out_as_rdkit_canonical(moleculeace_smiles, moses_smiles):
    rng = random.Random(7)
    sample = rng.sample(moleculeace_smiles, 600) + rng.sample(moses_smiles, 600)
    checked = 0
    for smiles in sample:
        mol = Chem.MolFromSmiles(smiles)
        if not _is_clean(mol):
            continue
        checked += 1
        result = standardize_smiles(smiles)
        assert result.smiles == Chem.MolToSmiles(mol) == canonical_smiles(smiles), smiles
        assert result.notes == (), smiles
    assert checked > 1000


def test_standardisation_is_idempotent_on_real_molecules(moleculeace_smiles):
    rng = random.Random(11)
    for smiles in rng.sample(moleculeace_smiles, 500):
        once = standardize_smiles(smiles)
        assert once.ok, smiles
        twice = standardize_smiles(once.smiles)
        assert twice.smiles == once.smiles, smiles
        assert twice.notes == ()


def test_random_smiles_of_a_molecule_standardise_to_one_string(drugs):
    for smiles in drugs.values():
        mol = Chem.MolFromSmiles(smiles)
        variants = {Chem.MolToSmiles(mol, doRandom=True) for _ in range(10)}
        assert len(variants) > 1
        assert {standardize_smiles(v).smiles for v in variants} == {smiles}


def test_canonical_smiles_helper():
    assert canonical_smiles("OC(=O)c1ccccc1OC(C)=O") == "CC(=O)Oc1ccccc1C(=O)O"
    assert canonical_smiles("C1CC") is None
    assert canonical_smiles("CC(=O)[O-].[Na+]") == "CC(=O)[O-].[Na+]"  # no standardisation here


def test_standardized_ok_property():
    assert Standardized("CCO", "CCO").ok
    assert not Standardized("x", None, "unparseable SMILES (syntax error)").ok
    assert standardize_smiles("CCO").ok
    assert not standardize_smiles("C1CC").ok


# --- molecules the standardiser used to write unreadable SMILES for ------------------------

METALLOCENES = {"Fe": "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "Ni": "[Ni+2].c1cc[cH-]c1.c1cc[cH-]c1",
                "Cr": "[Cr+2].c1cc[cH-]c1.c1cc[cH-]c1", "Co": "[Co+2].c1cc[cH-]c1.c1cc[cH-]c1"}


@pytest.mark.parametrize("metal, smiles", sorted(METALLOCENES.items()))
def test_metallocenes_are_rejected_as_metal_complexes_not_cut_to_a_fragment(metal, smiles):
    result = standardize_smiles(smiles)
    assert not result.ok
    assert result.reason.startswith(f"metal complex or organometallic ({metal})")


def test_platinum_complexes_written_as_ions_are_rejected():
    assert "(Pt)" in standardize_smiles("[Pt+2].[NH3].[NH3].[Cl-].[Cl-]").reason  # cisplatin


def test_counter_ion_metals_are_still_stripped_as_salts():
    assert standardize_smiles("[Na+].CC(=O)[O-]").smiles == "CC(=O)O"
    assert standardize_smiles("[Ca+2].CC(=O)[O-].CC(=O)[O-]").smiles == "CC(=O)O"
    assert standardize_smiles("[K+].O=C([O-])c1ccccc1O").smiles == "O=C(O)c1ccccc1O"


def test_molsidomine_keeps_its_mesoionic_form():
    result = standardize_smiles("CCOC(=O)[N-]c1c[n+](N2CCOCC2)no1")
    assert result.smiles == "CCOC(=O)[N-]c1c[n+](N2CCOCC2)no1"
    assert any("cleanup skipped" in note for note in result.notes)
    assert Chem.MolToSmiles(Chem.MolFromSmiles(result.smiles)) == result.smiles


@pytest.mark.parametrize("smiles", ["[SbH6+3]", "c1cc[cH-]c1"])
def test_ions_without_a_writable_neutral_form_keep_their_charge(smiles):
    result = standardize_smiles(smiles)
    assert result.smiles == Chem.MolToSmiles(Chem.MolFromSmiles(smiles))
    assert "neutralisation skipped: its result could not be written back as SMILES" in result.notes


def test_every_standardised_smiles_parses_back_to_itself(moleculeace_smiles, moses_smiles):
    """The guarantee every later stage relies on, over real libraries and the molecules that
    used to break it (charged, salted, metal-bearing and hypervalent inputs)."""
    rng = random.Random(3)
    charged = [s for s in moleculeace_smiles + moses_smiles if "+" in s or "-]" in s or "." in s]
    sample = rng.sample(moleculeace_smiles, 800) + rng.sample(moses_smiles, 800) + charged[:800]
    sample += [*METALLOCENES.values(), "CCOC(=O)[N-]c1c[n+](N2CCOCC2)no1", "[SbH6+3]", "C[Hg]Cl", "[O-][n+]1ccccc1",
               "C[N+](C)(C)C.[Cl-]", "[NH4+].[O-]C(=O)c1ccccc1", "O=[N+]([O-])c1ccccc1", "[Li+].[Br-]"]
    written = 0
    for smiles in sample:
        result = standardize_smiles(smiles)
        if result.ok:
            again = Chem.MolFromSmiles(result.smiles)
            assert again is not None and Chem.MolToSmiles(again) == result.smiles, (smiles, result.smiles)
            written += 1
        else:
            assert result.reason, smiles
    assert written > 2000


def test_an_atom_with_more_bonds_than_rdkit_checks_is_a_valence_error_not_a_crash():
    result = standardize_smiles("C" + "(C)" * 150)  # DetectChemistryProblems raises on it
    assert not result.ok and result.reason == "valence error: atom # 0 C has 150 neighbours"


# --- the cleanup step: RDKit's Cleanup, cheaper --------------------------------------------

def test_cleanup_writes_the_smiles_rdkit_cleanup_writes_on_real_libraries(fsmol_smiles, moses_smiles,
                                                                         moleculeace_smiles):
    """Every FS-Mol input that is charged, salted, bonded to a metal or written with explicit Hs
    (the molecules the skipped reioniser and the normaliser act on), and a sample of the rest."""
    rng = random.Random(5)
    special = [s for s in fsmol_smiles if "+" in s or "-]" in s or "." in s or "H]" in s]
    sample = (rng.sample(special, 2500) + rng.sample(fsmol_smiles, 1000) + rng.sample(moses_smiles, 500)
              + rng.sample(moleculeace_smiles, 500) + ["CS(C)=O", "C[N+](C)(C)C.[Cl-]", "[Na]Cl", "[Na].[Cl]",
                                                      "[K+].O=C([O-])c1ccccc1O", "OC(=O)C[N+](C)(C)C"])
    parameters = rdMolStandardize.CleanupParameters()
    compared = reionized = 0
    for smiles in sample:
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            continue
        expected = Chem.MolToSmiles(rdMolStandardize.Cleanup(mol, parameters))
        assert Chem.MolToSmiles(cleanup(mol)) == expected, smiles
        compared += 1
        reionized += any(atom.GetFormalCharge() for atom in mol.GetAtoms())
    assert compared > 4000 and reionized > 200
