"""Scoring peptide lists against a genotype: normalisation, per-row errors, allele spellings,
binder calls, percentiles, streaming, and atomic output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from molprior.data.mhc import binder_call
from molprior.data.peptide_input import PeptideInputError
from molprior.serialization import load_predictor
from molprior.workflows import peptide_scoring
from molprior.inference import mhc_scoring
from molprior.inference.mhc_scoring import COLUMNS
from molprior.workflows.peptide_scoring import score_peptide_file

GOOD = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]
#: Line by line: what the scorer must make of it (None: scored as it stands).
LINES = [
    ("SLYNTVATL", None),
    ("  nlvpmvatv\t", "note:whitespace removed; upper-cased"),
    ("", "skipped"),
    ("GILGF*FTL", "error:stop codon '*' at position 6"),
    ("GILGFXFTL", "error:unknown residue X at position 6"),
    ("SLYNUVATL", "error:non-standard residue U (selenocysteine) at position 5"),
    ("SLYNBVATL", "error:ambiguous residue B (D or N) at position 5"),
    ("SLYNZVATL", "error:ambiguous residue Z (E or Q) at position 5"),
    ("SLYNOVATL", "error:non-standard residue O (pyrrolysine) at position 5"),
    ("SLYN1VATL", "error:digit '1' at position 5"),
    ("GILGFVF", "error:length 7 outside the supported range 8-15"),
    ("KLVALGINAVKLVALG", "error:length 16 outside the supported range 8-15"),
    ("   ", "skipped"),
    ("SLYNTVATL", "note:duplicate of row 1"),
    ("GILGFVFTL", None),
    ("KLVALGINAV", None),
    ("YLLPAIVHI", None),
]


@pytest.fixture(scope="module")
def predictor(mhc_model):
    return load_predictor(mhc_model[0])


@pytest.fixture
def peptide_list(tmp_path):
    path = tmp_path / "peptides.txt"
    path.write_text("\n".join(line for line, _ in LINES) + "\n")
    return path


def _read(path) -> pd.DataFrame:
    numbers = ("ic50_nm", "score", "percentile_rank")  # empty: NaN; text columns keep ""
    return pd.read_csv(path, keep_default_na=False, na_values={c: [""] for c in numbers})


def test_a_messy_list_is_normalised_and_the_rest_is_scored(predictor, peptide_list, tmp_path):
    genotype = ["HLA-A*02:01", "HLA-B*07:02", "HLA-A*03:01"]
    outcome = score_peptide_file(predictor, peptide_list, tmp_path / "out.csv", genotype)
    out = _read(tmp_path / "out.csv")
    assert list(out.columns) == COLUMNS
    kept = [(number, text, rule) for number, (text, rule) in enumerate(LINES, start=1) if rule != "skipped"]
    assert len(out) == 3 * len(kept)  # one row per peptide and allele, blank lines skipped
    assert out["row"].tolist() == [n for n, _, _ in kept for _ in genotype]  # input order
    assert out["allele"].tolist() == genotype * len(kept)
    for i, (number, text, rule) in enumerate(kept):
        rows = out.iloc[3 * i:3 * i + 3]
        assert (rows["input"] == text).all()
        if rule and rule.startswith("error:"):
            assert (rows["error"] == rule[len("error:"):]).all() and (rows["peptide"] == "").all()
            assert rows["ic50_nm"].isna().all() and (rows["binder"] == "").all() and (rows["best_allele"] == "").all()
        else:
            assert (rows["error"] == "").all() and (rows["peptide"] == text.strip().upper()).all()
            assert (rows["note"] == (rule[len("note:"):] if rule else "")).all()
            assert rows["ic50_nm"].notna().all()
    assert outcome.peptides == len(kept) and outcome.rows == len(out)
    assert outcome.scored == 3 * 6 and outcome.errors == 3 * 9 and outcome.alleles == genotype
    assert outcome.allele_errors == []


def test_scores_ic50_binder_calls_percentiles_and_best_allele(predictor, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("\n".join(GOOD) + "\n")
    genotype = ["HLA-A*02:01", "HLA-A*03:01", "HLA-B*07:02", "HLA-A*26:02"]
    score_peptide_file(predictor, path, tmp_path / "out.csv", genotype)
    out = _read(tmp_path / "out.csv")
    # written to 0.01 nM and 5 decimals of score: 50000**(1-score) agrees to ln(50000) * 5e-6 relative
    # (the score's rounding) plus 0.005 nM (the IC50's)
    np.testing.assert_allclose(out["ic50_nm"], 50_000 ** (1 - out["score"]), rtol=np.log(50_000) * 5e-6 + 1e-9,
                               atol=0.005 + 1e-9)
    assert out["binder"].tolist() == binder_call(out["ic50_nm"].to_numpy()).tolist()
    assert out["percentile_rank"].between(0, 100).all()
    for peptide, rows in out.groupby("peptide"):
        assert (rows["best_allele"] == rows.loc[rows["ic50_nm"].idxmin(), "allele"]).all()
    for allele in genotype:  # the same numbers as the predictor's own
        rows = out[out["allele"] == allele]
        np.testing.assert_allclose(rows["ic50_nm"], predictor.predict_ic50(GOOD, allele), atol=0.006)
        scores = predictor.scores_from_body(predictor.body(GOOD), allele)
        expected = predictor.percentile(allele, np.array([len(p) for p in GOOD]), scores)
        np.testing.assert_allclose(rows["percentile_rank"], expected, atol=0.0006)  # written to 3 decimals
    # NLVPMVATV (CMV pp65) binds HLA-A*02:01 better than most random 9-mers
    a0201 = out[(out["allele"] == "HLA-A*02:01") & (out["peptide"] == "NLVPMVATV")]
    assert float(a0201["percentile_rank"].iloc[0]) < 10


def test_mhcflurry_column_names(predictor, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("\n".join(GOOD) + "\n")
    score_peptide_file(predictor, path, tmp_path / "ours.csv", ["HLA-A*02:01"])
    score_peptide_file(predictor, path, tmp_path / "theirs.csv", ["HLA-A*02:01"], mhcflurry_columns=True)
    ours, theirs = pd.read_csv(tmp_path / "ours.csv"), pd.read_csv(tmp_path / "theirs.csv")
    renamed = {"ic50_nm": "mhcflurry_affinity", "percentile_rank": "mhcflurry_affinity_percentile",
               "best_allele": "mhcflurry_best_allele"}
    assert list(theirs.columns) == [renamed.get(c, c) for c in COLUMNS]
    pd.testing.assert_frame_equal(ours.rename(columns=renamed), theirs)


def test_allele_spellings_resolve_to_one_allele(predictor, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("\n".join(GOOD) + "\n")
    frames = []
    for spelling in ["HLA-A*02:01", "HLA-A0201", "A*02:01", "HLA-A02:01", "hla-a*02:01"]:
        outcome = score_peptide_file(predictor, path, tmp_path / "out.csv", [spelling])
        assert outcome.alleles == ["HLA-A*02:01"] and outcome.allele_errors == []
        frames.append(_read(tmp_path / "out.csv"))
    for frame in frames[1:]:
        pd.testing.assert_frame_equal(frame, frames[0])
    assert (frames[0]["allele"] == "HLA-A*02:01").all()
    # two spellings of one allele in a genotype count once
    outcome = score_peptide_file(predictor, path, tmp_path / "twice.csv", ["HLA-A*02:01", "HLA-B*07:02", "HLA-A0201"])
    twice = _read(tmp_path / "twice.csv")
    assert outcome.alleles == ["HLA-A*02:01", "HLA-B*07:02"] and len(twice) == 2 * len(GOOD)
    assert twice["allele"].tolist() == ["HLA-A*02:01", "HLA-B*07:02"] * len(GOOD)


def test_unknown_and_malformed_alleles_name_the_closest_and_the_rest_is_scored(predictor, tmp_path):
    path = tmp_path / "good.txt"
    path.write_text("\n".join(GOOD) + "\n")
    outcome = score_peptide_file(predictor, path, tmp_path / "out.csv", ["HLA-A*02:01", "HLA-A*02:99", "HLA-A*02"])
    out = _read(tmp_path / "out.csv")
    assert outcome.alleles == ["HLA-A*02:01"] and len(outcome.allele_errors) == 2
    unknown, malformed = outcome.allele_errors
    assert "unknown allele 'HLA-A*02:99'" in unknown and "closest supported: HLA-A*02:01, HLA-A*02:02" in unknown
    assert "allele group" in malformed and "closest supported: HLA-A*02:01, HLA-A*02:02" in malformed
    assert len(out) == 3 * len(GOOD)
    good = out[out["allele"] == "HLA-A*02:01"]
    assert (good["error"] == "").all() and good["ic50_nm"].notna().all()
    bad = out[out["allele"] != "HLA-A*02:01"]
    assert set(bad["allele"]) == {"HLA-A*02:99", "HLA-A*02"} and bad["ic50_nm"].isna().all()
    assert set(bad["error"]) == {unknown, malformed}
    assert (out["best_allele"] == "HLA-A*02:01").all()


def test_a_csv_with_peptide_and_allele_columns(predictor, tmp_path):
    path = tmp_path / "pairs.csv"
    pd.DataFrame({"name": ["pp65", "M1", "gag", "gag-b7", "odd", "bad"],
                  "Peptide": ["NLVPMVATV", "gilgfvftl", "SLYNTVATL", "SLYNTVATL", "KLVALGINAV", "SLYNXVATL"],
                  "HLA": ["HLA-A0201", "A*02:01", "HLA-A*02:01", "HLA-B*07:02", "HLA-A*02:99", "HLA-A*02:01"]}
                 ).to_csv(path, index=False)
    outcome = score_peptide_file(predictor, path, tmp_path / "out.csv")
    out = _read(tmp_path / "out.csv")
    assert out["row"].tolist() == [2, 3, 4, 5, 6, 7]  # line numbers: the header is line 1
    assert out["allele"].tolist() == ["HLA-A*02:01"] * 3 + ["HLA-B*07:02", "HLA-A*02:99", "HLA-A*02:01"]
    assert (out["error"][:4] == "").all() and "closest supported" in out["error"][4]
    assert out["error"][5] == "unknown residue X at position 5"
    np.testing.assert_allclose(out["ic50_nm"][:3], predictor.predict_ic50(GOOD[:3], "HLA-A*02:01"), atol=0.006)
    assert out["best_allele"].tolist()[:4] == ["HLA-A*02:01"] * 3 + ["HLA-B*07:02"]
    assert outcome.scored == 4 and outcome.errors == 2
    (tmp_path / "plain.txt").write_text("SLYNTVATL\n")
    with pytest.raises(ValueError, match="no allele column: give the genotype"):
        score_peptide_file(predictor, tmp_path / "plain.txt", tmp_path / "out2.csv")
    pd.DataFrame({"seq": GOOD}).to_csv(tmp_path / "nocol.csv", index=False)
    with pytest.raises(PeptideInputError, match="no peptide column"):
        score_peptide_file(predictor, tmp_path / "nocol.csv", tmp_path / "out2.csv", ["HLA-A*02:01"])
    assert not (tmp_path / "out2.csv").exists()


def test_a_failure_leaves_an_existing_output_untouched(predictor, peptide_list, tmp_path, monkeypatch):
    output = tmp_path / "scores.csv"
    output.write_bytes(b"row,peptide\n1,EARLIER\n")
    before = output.read_bytes()
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"peptide": GOOD, "allele": "HLA-A*02:01"}).to_csv(pairs, index=False)
    with pytest.raises(ValueError, match="allele column and --alleles"):
        score_peptide_file(predictor, pairs, output, ["HLA-A*02:01"])
    assert output.read_bytes() == before

    real_score_chunk = mhc_scoring.score_chunk
    calls = []

    def failing(*args, **kwargs):  # the third chunk breaks, after two were written
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("disk full")
        return real_score_chunk(*args, **kwargs)

    monkeypatch.setattr(mhc_scoring, "score_chunk", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        score_peptide_file(predictor, peptide_list, output, ["HLA-A*02:01"], chunk_rows=3)
    assert len(calls) == 3 and output.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.csv", "peptides.txt", "scores.csv"]  # no temp file


def test_streaming_in_small_chunks_gives_the_same_file(predictor, peptide_list, tmp_path):
    genotype = ["HLA-A*02:01", "HLA-B*07:02", "HLA-A*02:99"]
    whole = score_peptide_file(predictor, peptide_list, tmp_path / "whole.csv", genotype)
    chunked = score_peptide_file(predictor, peptide_list, tmp_path / "chunked.csv", genotype, chunk_rows=3)
    # the same bytes: every forward pass takes fixed-size blocks (molprior.models.fixed_blocks)
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "chunked.csv").read_bytes()
    for size in (1, 2, 5, 7):
        score_peptide_file(predictor, peptide_list, tmp_path / f"chunk{size}.csv", genotype, chunk_rows=size,
                           batch_size=size)
        assert (tmp_path / f"chunk{size}.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes(), size
    assert (whole.peptides, whole.rows, whole.scored, whole.errors) == \
        (chunked.peptides, chunked.rows, chunked.scored, chunked.errors)
    # chunks scored in two worker processes: the same file, the chunks written in input order
    parallel = score_peptide_file(predictor, peptide_list, tmp_path / "parallel.csv", genotype, chunk_rows=3, jobs=2)
    assert (tmp_path / "parallel.csv").read_bytes() == (tmp_path / "whole.csv").read_bytes()
    assert (parallel.rows, parallel.scored, parallel.errors) == (whole.rows, whole.scored, whole.errors)
    written = [n for n, _ in parallel.progress]
    assert written == list(range(3, whole.peptides, 3)) + [whole.peptides]
    assert [t for _, t in parallel.progress] == sorted(t for _, t in parallel.progress)
    # the duplicate on line 14 is recognised across chunks
    assert "duplicate of row 1" in _read(tmp_path / "chunked.csv").query("row == 14")["note"].iloc[0]


def test_an_empty_file_gives_an_empty_table(predictor, tmp_path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(PeptideInputError, match="empty"):
        score_peptide_file(predictor, tmp_path / "empty.txt", tmp_path / "out.csv", ["HLA-A*02:01"])
    (tmp_path / "header.csv").write_text("peptide,allele\n")
    outcome = score_peptide_file(predictor, tmp_path / "header.csv", tmp_path / "out.csv")
    assert outcome.rows == 0 and list(pd.read_csv(tmp_path / "out.csv").columns) == COLUMNS


def test_empty_lines_are_listed_in_the_outcome(predictor, peptide_list, tmp_path):
    outcome = score_peptide_file(predictor, peptide_list, tmp_path / "out.csv", ["HLA-A*02:01"])
    assert outcome.empty_lines == [n for n, (_, rule) in enumerate(LINES, start=1) if rule == "skipped"] == [3, 13]
    assert peptide_scoring.empty_lines_note(outcome.empty_lines) == "2 empty lines skipped (lines 3, 13)"
    assert peptide_scoring.empty_lines_note([4]) == "1 empty line skipped (line 4)"


def test_the_output_is_checked_before_any_scoring(predictor, peptide_list, tmp_path, monkeypatch):
    from molprior.files import OutputPathError

    def never(*args, **kwargs):
        raise AssertionError("scored before the output was checked")

    monkeypatch.setattr(mhc_scoring, "score_chunk", never)
    (tmp_path / "results").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        score_peptide_file(predictor, peptide_list, tmp_path / "results", ["HLA-A*02:01"])
    before = peptide_list.read_bytes()
    with pytest.raises(OutputPathError, match="would replace the input"):
        score_peptide_file(predictor, peptide_list, peptide_list, ["HLA-A*02:01"])
    assert peptide_list.read_bytes() == before


def test_mouse_and_class_ii_alleles_are_told_what_is_supported(predictor, peptide_list, tmp_path):
    outcome = score_peptide_file(predictor, peptide_list, tmp_path / "out.csv",
                                 ["HLA-A*02:01", "H-2-Kb", "HLA-DRB1*01:01"])
    assert outcome.allele_errors == [
        "'H-2-Kb' is a mouse allele (H2-K*b): only human HLA class I (HLA-A, -B, -C) is supported",
        "'HLA-DRB1*01:01' is an MHC class II allele (HLA-DRB1*01:01): only class I is supported",
    ]
    out = _read(tmp_path / "out.csv")
    valid = out["peptide"] != ""  # a bad peptide's own error comes first
    assert out.loc[valid & (out["allele"] == "H-2-Kb"), "error"].str.contains("mouse allele").all()
    assert (out.loc[out["allele"] == "HLA-A*02:01", "ic50_nm"].notna().sum()) == 6
