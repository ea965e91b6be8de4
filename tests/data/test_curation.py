"""Curation: standardise every molecule and peptide of an assay table, keep a reason per rejection."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from _realdata import (
    ASPIRIN,
    BAD_AROMATIC,
    CAFFEINE,
    ETHANOL,
    METFORMIN,
    METFORMIN_HCL,
    MOLECULEACE_DIR,
    PARACETAMOL,
    PENTAVALENT_C,
    SALICYLIC_ACID,
    SODIUM_SALICYLATE,
    UNCLOSED_RING,
    moses_smiles,
)
from molprior.chem.standardize import StandardizeOptions
from molprior.data import curation, readers
from molprior.data.curation import CurationOptions, standardize_items, standardize_table
from molprior.data.schema import PROBLEM_COLUMNS, assay_table, empty_table


def rdkit_canonical(smiles: str) -> str:
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


def smiles_table(inputs, values=None):
    n = len(inputs)
    values = np.arange(n, dtype=float) if values is None else values
    return assay_table(np.arange(2, 2 + n), inputs, "CHEMBL204_Ki", values, unit="pKi", source="t.csv")


def peptide_table(peptides):
    n = len(peptides)
    return assay_table(np.arange(2, 2 + n), peptides, "HLA-A*02:01", np.full(n, 100.0), input_type="peptide",
                       unit="nM")


def test_good_rows_get_canonical_smiles_and_notes():
    inputs = ["C(C)O", ASPIRIN, "O=c1n(C)c(=O)c2c(ncn2C)n1C", METFORMIN_HCL, SODIUM_SALICYLATE, f"{PARACETAMOL} paracetamol"]
    kept, problems = standardize_table(smiles_table(inputs))
    assert problems.empty
    assert kept["line"].tolist() == [2, 3, 4, 5, 6, 7]
    assert kept["input"].tolist() == inputs  # the input is kept as given
    assert kept["smiles"].tolist() == [
        rdkit_canonical(ETHANOL),
        rdkit_canonical(ASPIRIN),
        rdkit_canonical(CAFFEINE),
        rdkit_canonical(METFORMIN),
        rdkit_canonical(SALICYLIC_ACID),
        rdkit_canonical(PARACETAMOL),
    ]
    assert kept["notes"].tolist() == ["", "", "", "kept largest fragment", "kept largest fragment; neutralised", ""]
    assert kept["value"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]  # other columns travel with their row
    assert "peptide" not in kept.columns


def test_bad_rows_are_rejected_with_reasons_and_their_lines():
    inputs = [ASPIRIN, UNCLOSED_RING, PENTAVALENT_C, CAFFEINE, BAD_AROMATIC, "", "[H][H]", "CC\ufffdO"]
    kept, problems = standardize_table(smiles_table(inputs))
    assert kept["line"].tolist() == [2, 5]
    assert tuple(problems.columns) == PROBLEM_COLUMNS
    assert problems["line"].tolist() == [3, 4, 6, 7, 8, 9]
    assert problems["input"].tolist() == [UNCLOSED_RING, PENTAVALENT_C, BAD_AROMATIC, "", "[H][H]", "CC\ufffdO"]
    assert set(problems["column"]) == {"smiles"}
    reasons = problems["reason"].tolist()
    assert reasons[0] == "unparseable SMILES (syntax error)"
    assert reasons[1].startswith("valence error")
    assert reasons[2].startswith("kekulisation failure")
    assert reasons[3] == "empty SMILES"
    assert reasons[4] == "no heavy atoms"
    assert reasons[5] == "invalid UTF-8 bytes in SMILES"


def test_missing_input_is_rejected_not_a_crash():
    table = smiles_table([ASPIRIN, None])
    kept, problems = standardize_table(table)
    assert kept["line"].tolist() == [2]
    assert problems["line"].tolist() == [3]
    assert problems["reason"].iat[0] == "empty SMILES"


def test_duplicate_inputs_are_standardised_once(monkeypatch):
    calls = Counter()
    real = curation.standardize_smiles

    def counting(text, options):
        calls[text] += 1
        return real(text, options)

    monkeypatch.setattr(curation, "standardize_smiles", counting)
    inputs = [ASPIRIN, CAFFEINE, ASPIRIN, UNCLOSED_RING, ASPIRIN, UNCLOSED_RING, "OCC", "CCO"]
    kept, problems = standardize_table(smiles_table(inputs))
    assert calls == Counter({ASPIRIN: 1, CAFFEINE: 1, UNCLOSED_RING: 1, "OCC": 1, "CCO": 1})
    assert kept["line"].tolist() == [2, 3, 4, 6, 8, 9]
    assert kept["smiles"].tolist() == [rdkit_canonical(ASPIRIN), rdkit_canonical(CAFFEINE), rdkit_canonical(ASPIRIN),
                                       rdkit_canonical(ASPIRIN), "CCO", "CCO"]
    assert problems["line"].tolist() == [5, 7]
    assert problems["reason"].nunique() == 1


def test_progress_counts_distinct_inputs():
    seen = []
    standardize_table(smiles_table([ASPIRIN, ASPIRIN, CAFFEINE, UNCLOSED_RING]), progress=seen.append)
    assert sum(seen) == 3


def test_n_jobs_2_equals_n_jobs_1_on_real_molecules():
    # more than one chunk of 1,000 distinct inputs, so n_jobs=2 really uses worker processes
    inputs = moses_smiles(1_050) + [UNCLOSED_RING, PENTAVALENT_C, METFORMIN_HCL]
    table = smiles_table(inputs)
    one = standardize_table(table, n_jobs=1)
    two = standardize_table(table, n_jobs=2)
    pd.testing.assert_frame_equal(one[0], two[0])
    pd.testing.assert_frame_equal(one[1], two[1])
    assert len(one[0]) == 1_051 and one[1]["line"].tolist() == [1_052, 1_053]


def test_standardize_items_parallel_chunks_keep_order():
    items = [("smiles", s) for s in [ASPIRIN, UNCLOSED_RING, CAFFEINE, METFORMIN_HCL, ETHANOL]] + \
            [("peptide", p) for p in ["slyntvatl", "AADKAAAAAY", "AAX"]]
    serial = standardize_items(items, n_jobs=1, chunk_size=3)
    parallel = standardize_items(items, n_jobs=2, chunk_size=3)
    assert serial == parallel
    assert [o.smiles is not None for o in serial] == [True, False, True, True, True, True, True, False]
    assert serial[5].normalized == "SLYNTVATL"


def test_real_moleculeace_molecules_all_standardise(tmp_path):
    lines = (MOLECULEACE_DIR / "CHEMBL204_Ki.csv").read_text().splitlines()[:41]
    path = tmp_path / "CHEMBL204_Ki.csv"
    path.write_text("\n".join(lines) + "\n")
    table = readers.read_moleculeace(path).table
    kept, problems = standardize_table(table)
    assert problems.empty
    assert len(kept) == 40
    assert kept["smiles"].str.len().gt(0).all()
    assert {"split", "cliff_mol"} <= set(kept.columns)


def test_options_can_keep_salts():
    options = CurationOptions(molecules=StandardizeOptions(largest_fragment=False, neutralize=False))
    kept, _ = standardize_table(smiles_table([SODIUM_SALICYLATE]), options)
    assert "." in kept["smiles"].iat[0] and "Na" in kept["smiles"].iat[0]
    default, _ = standardize_table(smiles_table([SODIUM_SALICYLATE]))
    assert default["smiles"].iat[0] == rdkit_canonical(SALICYLIC_ACID)


def test_empty_table():
    kept, problems = standardize_table(empty_table())
    assert len(kept) == 0 and len(problems) == 0
    assert tuple(problems.columns) == PROBLEM_COLUMNS


# --------------------------------------------------------------------------- peptides

def test_peptides_are_normalised_and_converted():
    # real HLA-A*02:01 ligands: influenza M1 58-66, HIV gag SL9, and a MHCflurry training peptide
    peptides = ["GILGFVFTL", "slyntvatl", " AADKAAAAAY "]
    kept, problems = standardize_table(peptide_table(peptides))
    assert problems.empty
    assert kept["input"].tolist() == peptides  # original text kept
    assert kept["peptide"].tolist() == ["GILGFVFTL", "SLYNTVATL", "AADKAAAAAY"]
    assert kept["notes"].tolist() == ["", "upper-cased", "whitespace removed"]
    for smiles, peptide in zip(kept["smiles"], kept["peptide"]):
        assert smiles == Chem.MolToSmiles(Chem.MolFromSequence(peptide))
    assert kept["smiles"].iat[1] == standardize_table(peptide_table(["SLYNTVATL"]))[0]["smiles"].iat[0]


@pytest.mark.parametrize(
    "peptide, reason",
    [
        ("AADSXATSY", "unknown residue X at position 5"),
        ("AAD1FATSY", "digit '1' at position 4"),
        ("GILGFV*TL", "stop codon '*' at position 7"),
        ("GILBFVFTL", "ambiguous residue B (D or N) at position 4"),
        ("GILG FVFTL", "whitespace inside the sequence at position 5"),
        ("GIL-GFVFTL", "invalid character '-' at position 4"),
        ("GIL", "length 3 outside the supported range 8-15"),
        ("GILGFVFTLGILGFVFTL", "length 18 outside the supported range 8-15"),
        ("", "empty peptide"),
    ],
)
def test_bad_peptides_are_rejected_with_position_reasons(peptide, reason):
    kept, problems = standardize_table(peptide_table(["GILGFVFTL", peptide]))
    assert kept["peptide"].tolist() == ["GILGFVFTL"]
    assert problems["line"].tolist() == [3]
    assert problems["column"].tolist() == ["peptide"]
    assert problems["reason"].tolist() == [reason]


def test_peptide_length_option():
    options = CurationOptions(peptide_lengths=(9, 9))
    kept, problems = standardize_table(peptide_table(["GILGFVFTL", "AADKAAAAAY"]), options)
    assert kept["peptide"].tolist() == ["GILGFVFTL"]
    assert problems["reason"].tolist() == ["length 10 outside the supported range 9-9"]
