"""MHC class I measurements: the affinity transform, binder calls and labels, and reading real
measurement files with per-row rejections."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molprior.data.mhc import (allele_tasks, binder_call, binder_labels, ic50_to_score, load_measurements,
                               measurements_from_frame, score_to_ic50)
from molprior.meta.losses import ABOVE, BELOW, EXACT
from _realdata import MHC_FILE


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    """Real rows: HLA-A*02:01 9-mers measured exactly, bounded from above ('<') and from below ('>')."""
    table = pd.read_csv(MHC_FILE)
    a0201 = table[(table["allele"] == "HLA-A*02:01") & (table["peptide"].str.len() == 9)]
    rows = [a0201[a0201["measurement_inequality"] == r].head(n) for r, n in (("=", 6), ("<", 2), (">", 2))]
    b0702 = table[(table["allele"] == "HLA-B*07:02") & (table["measurement_inequality"] == "=")].head(2)
    return pd.concat(rows + [b0702]).reset_index(drop=True)


def test_ic50_to_score():
    np.testing.assert_allclose(ic50_to_score([1.0, 50_000.0, 1e6, 0.1, 500.0]),
                               [1.0, 0.0, 0.0, 1.0, 1 - np.log(500) / np.log(50_000)])


def test_score_to_ic50_inverts_the_transform():
    ic50 = np.array([1.0, 7.5, 50.0, 499.0, 500.0, 2_000.0, 20_000.0, 50_000.0])
    np.testing.assert_allclose(score_to_ic50(ic50_to_score(ic50)), ic50, rtol=1e-9)
    np.testing.assert_allclose(score_to_ic50([0.0, 1.0, 0.5]), [50_000.0, 1.0, np.sqrt(50_000.0)])
    assert ic50_to_score(20_000.0) == pytest.approx(0.0847, abs=1e-4)  # MHCflurry's "> 20000" bound


def test_binder_calls_at_the_thresholds():
    calls = binder_call(np.array([1.0, 49.99, 50.0, 120.0, 499.99, 500.0, 20_000.0, np.nan]))
    assert calls.tolist() == ["strong", "strong", "weak", "weak", "weak", "non-binder", "non-binder", ""]


def test_censored_labels_only_when_the_bound_decides():
    ic50 = np.array([100.0, 500.0, 800.0, 100.0, 500.0, 5_000.0, 5_000.0, 100.0, 500.0])
    relation = np.array(["=", "=", "=", "<", "<", "<", ">", ">", ">"], dtype=object)
    labels = binder_labels(ic50, relation)
    # "< 100" and "< 500" are binders, "< 5000" could be either; "> 5000" and "> 500" are non-binders, "> 100" either
    np.testing.assert_array_equal(labels, [1, 0, 0, 1, 1, np.nan, 0, np.nan, 0])


def test_real_measurements_are_normalised_and_scored(real):
    frame = real.copy()
    frame.loc[1, "allele"] = "HLA-A0201"
    frame.loc[2, "allele"] = "A*02:01"
    frame.loc[3, "allele"] = "HLA-A02:01"
    frame.loc[4, "peptide"] = f"  {frame.loc[4, 'peptide'].lower()} "
    measurements = measurements_from_frame(frame)
    table = measurements.table
    assert measurements.rejected.empty and len(table) == len(real)
    assert list(table.columns) == ["allele", "peptide", "ic50", "relation", "score", "score_relation", "label"]
    assert table["allele"].tolist() == ["HLA-A*02:01"] * 10 + ["HLA-B*07:02"] * 2
    assert table["peptide"].tolist() == real["peptide"].tolist()  # upper-cased, stripped
    np.testing.assert_allclose(table["score"], ic50_to_score(real["ic50"].to_numpy()))
    codes = dict(zip(real["measurement_inequality"], table["score_relation"]))
    assert codes == {"=": EXACT, ">": BELOW, "<": ABOVE}  # "> 20000 nM" bounds the score from above
    np.testing.assert_array_equal(table["label"], binder_labels(real["ic50"], real["measurement_inequality"]))
    assert measurements.alleles() == ["HLA-A*02:01", "HLA-B*07:02"]
    assert measurements.counts().to_dict() == {"HLA-A*02:01": 10, "HLA-B*07:02": 2}
    assert measurements.of("HLA-B*07:02")["peptide"].tolist() == real["peptide"].tail(2).tolist()


def test_bad_rows_are_rejected_with_reasons_and_line_numbers(real, tmp_path):
    frame = real.copy()
    frame["ic50"] = frame["ic50"].astype(object)
    frame.loc[0, "peptide"] = "SLYNXVATL"
    frame.loc[1, "peptide"] = "GILGFVF"
    frame.loc[2, "allele"] = "HLA-A*02"
    frame.loc[3, "allele"] = "not an allele"
    frame.loc[4, "ic50"] = "n/a"
    frame.loc[5, "ic50"] = ""
    frame.loc[6, "measurement_inequality"] = "~"
    frame.loc[7, "ic50"] = -5.0
    frame.loc[8, "measurement_inequality"] = np.nan  # no inequality: an exact measurement
    path = tmp_path / "measurements.csv"
    frame.to_csv(path, index=False)
    measurements = load_measurements(path)
    rejected = measurements.rejected
    assert list(rejected.columns) == ["line", "allele", "peptide", "reason"]
    assert rejected["line"].tolist() == [2, 3, 4, 5, 6, 7, 8, 9]  # the header is line 1
    reasons = rejected["reason"].tolist()
    assert "unknown residue X at position 5" in reasons[0]
    assert "length 7 outside the supported range 8-15" in reasons[1]
    assert "allele group" in reasons[2] and "HLA-A*02" in reasons[2]
    assert "not an allele" in reasons[3]
    assert reasons[4] == reasons[5] == reasons[7] == "missing or non-numeric ic50"
    assert reasons[6] == "unknown inequality '~'"
    table = measurements.table
    assert table["peptide"].tolist() == real["peptide"][8:].tolist()
    assert table.loc[0, "relation"] == "=" and table.loc[0, "score_relation"] == EXACT


def test_other_column_spellings_and_missing_columns(real, tmp_path):
    frame = real.rename(columns={"ic50": "measurement_value", "allele": "Allele", "peptide": " Peptide"})
    path = tmp_path / "renamed.csv"
    frame.to_csv(path, index=False)
    measurements = load_measurements(path)
    assert len(measurements.table) == len(real) and measurements.rejected.empty
    with pytest.raises(ValueError, match="missing \\['ic50'\\]"):
        measurements_from_frame(real.drop(columns=["ic50"]))
    exact = measurements_from_frame(real.drop(columns=["measurement_inequality"]))
    assert (exact.table["relation"] == "=").all() and (exact.table["score_relation"] == EXACT).all()


def test_supported_lengths_can_be_changed(real):
    frame = real.head(3).copy()
    frame.loc[0, "peptide"] = "GILGFVF"
    measurements = measurements_from_frame(frame, lengths=(7, 9))
    assert measurements.rejected.empty and measurements.table.loc[0, "peptide"] == "GILGFVF"
    assert len(measurements_from_frame(frame, lengths=(10, 15)).table) == 0


def test_a_malformed_line_is_one_rejected_row_and_the_rest_is_read(tmp_path):
    lines = ["allele,peptide,ic50,measurement_inequality", "HLA-A*02:01,SLYNTVATL,35,=",
             '"HLA-A*02:01,GILGFVFTL,12,=', "HLA-A*02:01,NLVPMVATV,80,=,surplus"]
    lines += [f"HLA-A*02:01,{p},{v},=" for p, v in (("KLVALGINAV", 9000), ("YLLPAIVHI", 40))] * 10
    path = tmp_path / "measurements.csv"
    path.write_text("\n".join(lines) + "\n")
    measurements = load_measurements(path)
    assert len(measurements.table) == 21
    rejected = measurements.rejected.set_index("line")
    assert rejected.index.tolist() == [3, 4]
    assert rejected.loc[3, "peptide"] == '"HLA-A*02:01,GILGFVFTL,12,=' and "quote" in rejected.loc[3, "reason"]
    assert rejected.loc[4, "reason"] == "malformed line: 5 fields, the header has 4"


def test_allele_tasks_are_peptide_tasks_pointing_into_the_feature_table(real):
    table = measurements_from_frame(real).table
    peptides = sorted(set(table["peptide"]))[::-1]
    rows = {p: i for i, p in enumerate(peptides)}
    a0201, b0702 = allele_tasks(table, rows, ["HLA-A*02:01", "HLA-B*07:02"])
    part = table[table["allele"] == "HLA-A*02:01"]
    assert a0201.assay == "HLA-A*02:01" and a0201.kind == "peptide" and len(a0201) == len(part) == 10
    assert a0201.inputs == part["peptide"].tolist() and [peptides[r] for r in a0201.rows] == a0201.inputs
    assert a0201.values.dtype == np.float32 and a0201.relations.dtype == np.int64
    np.testing.assert_array_equal(a0201.values, part["score"].to_numpy(np.float32))
    np.testing.assert_array_equal(a0201.relations, part["score_relation"])
    assert set(np.unique(a0201.relations)) == {EXACT, BELOW, ABOVE}  # real data, censored both ways
    np.testing.assert_array_equal(a0201.labels, part["label"])
    assert b0702.inputs == table.loc[table["allele"] == "HLA-B*07:02", "peptide"].tolist()
