"""Binary labels: median split by unit direction, binary columns, MHC binders, censored rules."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from _realdata import ASPIRIN, BENZENE, CAFFEINE, ETHANOL, IBUPROFEN, PARACETAMOL
from molprior.data import labels
from molprior.data.schema import assay_table

DRUGS = [ASPIRIN, CAFFEINE, PARACETAMOL, IBUPROFEN, ETHANOL, BENZENE]


def table(values, relations=None, unit="", assay="CHEMBL204", input_type="smiles", inputs=None):
    n = len(values)
    relations = np.array(relations or ["="] * n, dtype=object)
    return assay_table(np.arange(2, 2 + n), inputs or DRUGS[:n], assay, values, relation=relations,
                       unit=unit, input_type=input_type)


def same(actual, expected):
    actual = list(actual)
    assert len(actual) == len(expected), (actual, expected)
    for a, e in zip(actual, expected):
        assert (math.isnan(a) and math.isnan(e)) or a == e, (actual, expected)


@pytest.mark.parametrize("unit", ["nM", "nm", "uM", "µM", "mM", "M", "pM", " nM "])
def test_concentrations_are_lower_is_active(unit):
    assert labels.lower_is_active(unit)


@pytest.mark.parametrize("unit", ["pKi", "pEC50", "pIC50", "", "log units", "binary", "%"])
def test_potencies_are_higher_is_active(unit):
    assert not labels.lower_is_active(unit)


def test_median_split_higher_is_active_for_p_units():
    result = labels.assign_labels(table([5.0, 6.0, 7.0, 8.0, 9.0], unit="pKi"))
    same(result["label"], [0.0, 0.0, 1.0, 1.0, 1.0])  # median 7, value >= 7 active


def test_median_split_lower_is_active_for_nM():
    result = labels.assign_labels(table([5.0, 50.0, 500.0, 5000.0, 50000.0], unit="nM"))
    same(result["label"], [1.0, 1.0, 1.0, 0.0, 0.0])  # median 500, value <= 500 active


def test_median_split_no_unit_is_higher_is_active():
    result = labels.assign_labels(table([-3.97, -1.72, -0.87, -1.64]))
    same(result["label"], [0.0, 0.0, 1.0, 1.0])  # median -1.68


def test_binary_columns_are_untouched():
    # a median split of [0, 0, 0, 1] would call every molecule active
    result = labels.assign_labels(table([0.0, 0.0, 0.0, 1.0]))
    same(result["label"], [0.0, 0.0, 0.0, 1.0])


def test_assays_are_labelled_independently():
    a = table([5.0, 6.0, 7.0], unit="pKi", assay="CHEMBL204_Ki")
    b = table([10.0, 100.0, 1000.0], unit="nM", assay="CHEMBL214_nM")
    c = table([1.0, 0.0, 0.0], assay="NR-AR")
    result = labels.assign_labels(pd.concat([a, b, c], ignore_index=True))
    same(result["label"], [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0])


def test_censored_p_units():
    # exact values 5, 6, 7, 8 -> median 6.5; higher is active
    result = labels.assign_labels(table(
        [5.0, 6.0, 7.0, 8.0, 9.0, 4.0, 6.0, 8.0],
        ["=", "=", "=", "=", ">", "<", ">", "<"], unit="pKi",
        inputs=DRUGS + ["CCN", "CCCl"]))
    same(result["label"], [0.0, 0.0, 1.0, 1.0,
                           1.0,         # > 9 : above the median, active
                           0.0,         # < 4 : below the median, inactive
                           math.nan,    # > 6 : could be either side of 6.5
                           math.nan])   # < 8 : could be either side


def test_censored_nM():
    # exact values 10, 100, 1000 -> median 100 nM; lower is active
    result = labels.assign_labels(table(
        [10.0, 100.0, 1000.0, 5.0, 1e4, 1e4, 5.0],
        ["=", "=", "=", "<", ">", "<", ">"], unit="nM", inputs=DRUGS + ["CCN"]))
    same(result["label"], [1.0, 1.0, 0.0,
                           1.0,         # < 5 nM: active
                           0.0,         # > 10 uM: inactive
                           math.nan,    # < 10 uM: undetermined
                           math.nan])   # > 5 nM: undetermined


def test_threshold_is_the_median_of_exact_values_only():
    assert labels.assay_threshold(np.array([1.0, 2.0, 3.0, 100.0]), np.array(["=", "=", "=", ">"], dtype=object)) == 2.0
    assert labels.assay_threshold(np.array([1.0, 3.0]), np.array(["<", ">"], dtype=object)) == 2.0


def test_only_censored_assay_uses_the_median_of_all_bounds():
    result = labels.assign_labels(table([10.0, 20.0, 30.0], [">", ">", "<"], unit="pKi"))
    same(result["label"], [math.nan, 1.0, math.nan])


def test_mhc_binder_threshold_is_500_nM_not_the_median():
    peptides = ["AADKAAAAAY", "ATDFKFAMY", "CSDETTLYY", "GEIGIRNWL", "IPVRRGYTT", "AADSFATSY", "KSFKLLCKL"]
    result = labels.assign_labels(table(
        [45.0, 50.0, 400.0, 20000.0, 100.0, 1000.0, 100.0],
        ["=", "=", "=", ">", "<", "<", ">"],
        unit="nM", assay="HLA-A*01:01", input_type="peptide", inputs=peptides))
    same(result["label"], [1.0, 1.0, 1.0,  # every exact value < 500 nM binds (a median split would not say so)
                           0.0,            # > 20000 nM: non-binder
                           1.0,            # < 100 nM: binder
                           math.nan,       # < 1000 nM: undetermined
                           math.nan])      # > 100 nM: undetermined
    assert labels.BINDER_NM == 500.0


def test_unlabelled_rows_keep_nan_labels():
    result = labels.assign_labels(table([math.nan, math.nan], assay=""))
    assert result["label"].isna().all()
    other = labels.assign_labels(table([7.0, 5.0], unit="pKi", assay="CHEMBL204_Ki"))
    assert other["label"].tolist() == [1.0, 0.0]


def test_assign_labels_returns_a_copy_and_handles_empty():
    original = table([5.0, 7.0], unit="pKi")
    result = labels.assign_labels(original)
    assert original["label"].isna().all()
    assert result["label"].tolist() == [0.0, 1.0]
    empty = labels.assign_labels(table([]))
    assert len(empty) == 0


def test_threshold_labels_directly():
    values = np.array([1.0, 2.0, 3.0, 0.5, 4.0])
    relations = np.array(["=", "=", "=", "<", ">"], dtype=object)
    same(labels.threshold_labels(values, relations, 2.0, lower_active=False), [0.0, 1.0, 1.0, 0.0, 1.0])
    same(labels.threshold_labels(values, relations, 2.0, lower_active=True), [1.0, 1.0, 0.0, 1.0, 0.0])


def test_unmeasured_rows_keep_an_undetermined_label():
    from molprior.data.schema import assay_table

    table = assay_table([2, 3, 4], ["CCO", "CCN", "CCC"], "A", [7.0, np.nan, 5.0], unit="pKi")
    result = labels.assign_labels(table)
    assert result["label"].iloc[0] == 1.0 and np.isnan(result["label"].iloc[1]) and result["label"].iloc[2] == 0.0
