"""The MHC post-processor on in-memory tables: IC50, percentile, binder call, per-row errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molprior.inference.mhc_scoring import COLUMNS, AlleleResolver, score_table
from molprior.serialization import load_predictor

GOOD = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]


@pytest.fixture(scope="module")
def predictor(mhc_model):
    return load_predictor(mhc_model[0])


def test_score_table_scores_an_in_memory_frame(predictor):
    frame = pd.DataFrame({"peptide": GOOD + ["GILGF*FTL"], "allele": ["HLA-A0201"] * 5 + ["HLA-A*02:01"]})
    out = score_table(predictor, frame)
    assert list(out.columns) == COLUMNS and out["row"].tolist() == [1, 2, 3, 4, 5, 6]
    np.testing.assert_allclose(out["ic50_nm"][:5], predictor.predict_ic50(GOOD, "HLA-A*02:01"), atol=0.006)
    assert out["error"][:5].isna().all() and out["error"][5] == "stop codon '*' at position 6"
    with pytest.raises(ValueError, match="'allele'"):
        score_table(predictor, frame[["peptide"]])


def test_score_table_reports_missing_values_as_missing(predictor):
    """A missing peptide or allele (None/NaN in the frame) is an empty value, not the text 'nan'."""
    frame = pd.DataFrame({"peptide": ["SLYNTVATL", None, "GILGFVFTL"], "allele": ["HLA-A*02:01", "HLA-A*02:01", None]})
    out = score_table(predictor, frame)
    assert out["input"][1] == "" and out["error"][1] == "empty peptide" and not out["note"][1]
    assert out["allele"][2] == "" and out["error"][2].startswith("empty allele name")
    assert out["error"][0] is None or pd.isna(out["error"][0])


def test_a_genotype_fans_out_to_one_row_per_allele_with_the_best_one_named(predictor):
    from molprior.data.peptide_input import peptide_rows
    from molprior.inference.mhc_scoring import score_chunk

    genotype = predictor.supported[:2]
    rows = peptide_rows(GOOD, [None] * len(GOOD), predictor.lengths)
    out = score_chunk(predictor, rows, genotype, AlleleResolver(predictor.supported))
    assert len(out) == 2 * len(GOOD) and out["allele"].tolist() == genotype * len(GOOD)
    for row, scored in out.groupby("row"):
        assert (scored["best_allele"] == scored.loc[scored["ic50_nm"].idxmin(), "allele"]).all()
    expected = predictor.predict_ic50(GOOD, genotype[1])
    np.testing.assert_allclose(out["ic50_nm"][1::2], expected, atol=0.006)  # rounded to 0.01 nM


def test_allele_spellings_are_resolved_once_each():
    resolver = AlleleResolver(["HLA-A*02:01"])
    assert resolver("HLA-A0201") == "HLA-A*02:01" == resolver("A*02:01")
    assert not isinstance(resolver("HLA-Z*99:99"), str)


def test_a_table_scoring_fails_on_is_scored_in_halves(mhc_model, monkeypatch):
    """Should scoring raise for a whole table, only the rows it fails on get an error."""
    predictor = load_predictor(mhc_model[0])
    frame = pd.DataFrame({"peptide": ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI",
                                      "NLVPMVATV"],
                          "allele": ["HLA-A*02:01"] * 4 + ["HLA-B*07:02", "HLA-A*02:01"]})
    expected = score_table(predictor, frame)
    body = predictor.body

    def failing(peptides, *args, **kwargs):
        if "KLVALGINAV" in peptides:
            raise RuntimeError("embedding failed\n  details")
        return body(peptides, *args, **kwargs)

    monkeypatch.setattr(predictor, "body", failing)
    out = score_table(predictor, frame)
    assert list(out.columns) == COLUMNS and out["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out["input"].tolist() == frame["peptide"].tolist() and out["allele"][3] == "HLA-A*02:01"
    assert out["error"][3] == "cannot score: embedding failed: details" and np.isnan(out["ic50_nm"][3])
    good = [0, 1, 2, 4, 5]
    assert out.loc[good, "error"].isna().all()
    np.testing.assert_allclose(out.loc[good, "ic50_nm"].astype(float), expected.loc[good, "ic50_nm"].astype(float),
                               rtol=1e-6)
    assert out["note"][5] == expected["note"][5] == "duplicate of row 1"  # rows count across the halves
