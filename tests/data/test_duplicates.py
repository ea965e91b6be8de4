"""Duplicate measurements: each rule of molprior.data.duplicates' docstring."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem

from _realdata import (
    ASPIRIN,
    CAFFEINE,
    IBUPROFEN,
    METFORMIN,
    METFORMIN_HCL,
    PARACETAMOL,
    SALICYLIC_ACID,
    SODIUM_SALICYLATE,
)
from molprior.data.curation import standardize_table
from molprior.data.duplicates import CONFLICT_LOG_UNITS, REPORT_COLUMNS, aggregate_duplicates
from molprior.data.schema import COLUMNS, assay_table


def measured(values, relations=None, unit="pKi", smiles=None, assay="CHEMBL204"):
    """A standardised table: by default every row is aspirin."""
    n = len(values)
    smiles = smiles or [ASPIRIN] * n
    relations = np.array(relations or ["="] * n, dtype=object)
    table = assay_table(np.arange(2, 2 + n), smiles, assay, values, relation=relations, unit=unit)
    table["smiles"] = smiles
    return table


def merge_one(values, relations=None, unit="pKi"):
    """The merged table and the single report row for one group of aspirin measurements."""
    merged, report = aggregate_duplicates(measured(values, relations, unit))
    assert len(report) == 1
    return merged, report.iloc[0]


def test_mean_for_p_units():
    merged, report = merge_one([6.0, 6.5, 7.0])
    assert merged["value"].tolist() == [pytest.approx(6.5)]
    assert merged["relation"].tolist() == ["="]
    assert merged["line"].tolist() == [2]
    assert report["action"] == "mean"
    assert not report["conflict"]
    assert report["n_measurements"] == 3
    assert report["lines"] == "2;3;4"
    assert report["values"] == "6;6.5;7"
    assert report["relations"] == "=;=;="


def test_geometric_mean_for_nM():
    merged, report = merge_one([10.0, 40.0], unit="nM")
    assert merged["value"].iat[0] == pytest.approx(20.0)  # not the arithmetic 25
    assert report["action"] == "geometric mean"
    assert not report["conflict"]


@pytest.mark.parametrize("unit, values, conflict", [
    ("pKi", [5.0, 6.0], False),        # exactly one log unit: not a conflict
    ("pKi", [5.0, 6.2], True),
    ("pEC50", [4.1, 7.9], True),
    ("nM", [10.0, 100.0], False),      # exactly ten-fold
    ("nM", [10.0, 120.0], True),
    ("uM", [0.5, 50.0], True),
])
def test_conflict_when_spread_exceeds_one_log_unit(unit, values, conflict):
    merged, report = merge_one(values, unit=unit)
    assert bool(report["conflict"]) is conflict
    assert len(merged) == 1  # conflicting groups are flagged but kept
    assert CONFLICT_LOG_UNITS == 1.0


def test_majority_vote_for_binary():
    merged, report = merge_one([1.0, 1.0, 0.0], unit="")
    assert merged["value"].tolist() == [1.0]
    assert merged["label"].tolist() == [1.0]
    assert report["action"] == "majority vote"
    assert report["conflict"]  # the labels disagreed


def test_unanimous_binary_is_not_a_conflict():
    merged, report = merge_one([0.0, 0.0], unit="")
    assert merged["value"].tolist() == [0.0]
    assert not report["conflict"]


def test_binary_tie_is_dropped():
    table = measured([1.0, 0.0, 1.0], unit="", smiles=[ASPIRIN, ASPIRIN, CAFFEINE])
    merged, report = aggregate_duplicates(table)
    assert merged["smiles"].tolist() == [CAFFEINE]
    assert len(report) == 1
    assert report["action"].iat[0].startswith("dropped")
    assert report["conflict"].iat[0]
    assert report["lines"].iat[0] == "2;3"


def test_only_upper_bounds_keep_the_smallest():
    merged, report = merge_one([100.0, 10.0, 50.0], ["<", "<", "<"], unit="nM")
    assert merged["value"].tolist() == [10.0]
    assert merged["relation"].tolist() == ["<"]
    assert report["action"] == "tightest upper bound"
    assert not report["conflict"]


def test_only_lower_bounds_keep_the_largest():
    merged, report = merge_one([10.0, 1e4, 100.0], [">", ">", ">"], unit="nM")
    assert merged["value"].tolist() == [1e4]
    assert merged["relation"].tolist() == [">"]
    assert report["action"] == "tightest lower bound"


def test_mixed_bounds_are_dropped():
    merged, report = merge_one([10.0, 1e4], ["<", ">"], unit="nM")
    assert merged.empty
    assert report["action"].startswith("dropped")
    assert report["conflict"]
    assert report["relations"] == "<;>"


def test_exact_values_win_over_censored():
    merged, report = merge_one([6.0, 9.0, 7.0, 3.0], ["=", ">", "=", "<"], unit="pKi")
    assert merged["value"].tolist() == [pytest.approx(6.5)]
    assert merged["relation"].tolist() == ["="]
    assert "censored set aside" in report["action"]
    assert "2 exact" in report["action"]
    assert not report["conflict"]


def test_exact_wins_over_censored_nM():
    merged, report = merge_one([10.0, 5.0, 1e5], ["=", "<", ">"], unit="nM")
    assert merged["value"].tolist() == [pytest.approx(10.0)]
    assert merged["relation"].tolist() == ["="]
    assert report["action"].startswith("geometric mean")


def test_same_molecule_in_different_assays_is_not_merged():
    table = pd.concat([measured([6.0], assay="CHEMBL204_Ki"), measured([8.0], assay="CHEMBL214_Ki")],
                      ignore_index=True)
    table["line"] = [2, 3]
    merged, report = aggregate_duplicates(table)
    assert merged["value"].tolist() == [6.0, 8.0]
    assert report.empty
    assert tuple(report.columns) == REPORT_COLUMNS


def test_singles_and_groups_together_keep_line_order_and_relabel():
    smiles = [ASPIRIN, CAFFEINE, ASPIRIN, PARACETAMOL, IBUPROFEN]
    merged, report = aggregate_duplicates(measured([6.0, 7.0, 8.0, 5.0, 9.0], smiles=smiles))
    assert merged["line"].tolist() == [2, 3, 5, 6]
    assert merged["smiles"].tolist() == [ASPIRIN, CAFFEINE, PARACETAMOL, IBUPROFEN]
    assert merged["value"].tolist() == [7.0, 7.0, 5.0, 9.0]
    # labels are recomputed on the merged values: median 7 (pKi, higher active)
    assert merged["label"].tolist() == [1.0, 1.0, 0.0, 1.0]
    assert report["lines"].tolist() == ["2;4"]
    assert report["conflict"].tolist() == [True]  # 6 and 8 span two log units
    assert tuple(merged.columns) == COLUMNS


def test_unlabelled_duplicates_are_deduplicated_on_smiles():
    table = measured([math.nan, math.nan, math.nan], smiles=[ASPIRIN, CAFFEINE, ASPIRIN], unit="", assay="")
    merged, report = aggregate_duplicates(table)
    assert merged["smiles"].tolist() == [ASPIRIN, CAFFEINE]
    assert merged["line"].tolist() == [2, 3]
    assert report["lines"].tolist() == ["2;4"]
    assert report["action"].tolist() == ["kept first (no values)"]


def test_empty_table():
    merged, report = aggregate_duplicates(measured([]))
    assert merged.empty
    assert tuple(report.columns) == REPORT_COLUMNS


@pytest.mark.parametrize("spellings, parent", [
    (["OCC", "CCO", "C(O)C"], "CCO"),
    ([METFORMIN_HCL, METFORMIN], METFORMIN),
    ([SODIUM_SALICYLATE, SALICYLIC_ACID, "OC(=O)c1ccccc1O"], SALICYLIC_ACID),
])
def test_spellings_of_one_molecule_merge_after_standardisation(spellings, parent):
    n = len(spellings)
    raw = assay_table(np.arange(2, 2 + n), spellings, "CHEMBL204_Ki", np.linspace(6.0, 6.4, n), unit="pKi")
    raw = pd.concat([raw, assay_table([2 + n], [PARACETAMOL], "CHEMBL204_Ki", [5.0], unit="pKi")],
                    ignore_index=True)
    kept, problems = standardize_table(raw)
    assert problems.empty
    merged, report = aggregate_duplicates(kept)
    assert len(merged) == 2
    assert merged["smiles"].iat[0] == Chem.MolToSmiles(Chem.MolFromSmiles(parent))
    assert merged["value"].iat[0] == pytest.approx(6.2)
    assert merged["input"].iat[0] == spellings[0]  # the first row's input and line are kept
    assert report["lines"].tolist() == [";".join(str(i) for i in range(2, 2 + n))]
    assert report["n_measurements"].tolist() == [n]


def test_zero_and_one_in_a_regression_assay_are_averaged_not_voted():
    from molprior.data.schema import assay_table

    table = assay_table([2, 3, 4, 5], ["CCO", "CCO", "CCN", "CCC"], "logD", [1.0, 0.0, 2.5, 3.1], unit="logD")
    table["smiles"] = table["input"]
    merged, report = aggregate_duplicates(table)
    assert merged.set_index("smiles").loc["CCO", "value"] == pytest.approx(0.5)
    assert report["action"].tolist() == ["mean"]
