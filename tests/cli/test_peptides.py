"""``molprior peptides score|alleles|adapt|train`` on the tiny MHC model, in-process."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from molprior.cli.main import main

MHC_FILE = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"

GOOD = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]
TRAINED = ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*03:01", "HLA-A*26:02", "HLA-B*07:02"]


@pytest.fixture
def peptides(tmp_path):
    path = tmp_path / "peptides.txt"
    path.write_text("\n".join(["SLYNTVATL", "gilgfvftl", "", "GILGFXFTL", "NLVPMVATV", "SLYNTVATL"]) + "\n")
    return path


def test_score_with_a_genotype_in_any_spelling(mhc_model, peptides, tmp_path, capsys):
    output = tmp_path / "scores.csv"
    code = main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(peptides),
                 "--alleles", "HLA-A*02:01, HLA-A0201,B*07:02", "-o", str(output)])
    assert code == 0
    captured = capsys.readouterr()
    assert "scored 8 peptide/allele pairs of 5 peptides (2 rows with an error)" in captured.out
    out = pd.read_csv(output, keep_default_na=False)
    assert out["row"].tolist() == [1, 1, 2, 2, 4, 4, 5, 5, 6, 6]
    assert out["allele"].tolist() == ["HLA-A*02:01", "HLA-B*07:02"] * 5
    assert out["error"][4] == out["error"][5] == "unknown residue X at position 6"
    assert out["note"][2] == "upper-cased" and out["note"][8] == "duplicate of row 1"
    assert (out["ic50_nm"][out["error"] == ""].astype(float) > 0).all()


def test_score_with_mhcflurry_columns_and_an_allele_column(mhc_model, tmp_path):
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"peptide": GOOD, "allele": ["HLA-A*02:01", "HLA-A0201", "A*02:01", "HLA-A02:01", "HLA-B*07:02"]}
                 ).to_csv(pairs, index=False)
    output = tmp_path / "scores.csv"
    assert main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(pairs), "-o", str(output),
                 "--mhcflurry-columns", "--chunk-rows", "2"]) == 0
    out = pd.read_csv(output)
    assert {"mhcflurry_affinity", "mhcflurry_affinity_percentile", "mhcflurry_best_allele"} <= set(out.columns)
    assert not {"ic50_nm", "percentile_rank", "best_allele"} & set(out.columns)
    assert out["allele"].tolist() == ["HLA-A*02:01"] * 4 + ["HLA-B*07:02"]
    assert out["mhcflurry_affinity_percentile"].between(0, 100).all()


def test_unknown_alleles_are_reported_and_the_rest_is_scored(mhc_model, peptides, tmp_path, capsys):
    output = tmp_path / "scores.csv"
    code = main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(peptides),
                 "--alleles", "HLA-A*02:01,HLA-A*02:99,HLA-A*02", "-o", str(output)])
    assert code == 0
    err = capsys.readouterr().err
    assert "allele error: unknown allele 'HLA-A*02:99'; closest supported: HLA-A*02:01, HLA-A*02:02" in err
    assert "allele error: 'HLA-A*02' names only the allele group" in err
    out = pd.read_csv(output, keep_default_na=False)
    assert len(out) == 15 and (out[out["allele"] == "HLA-A*02:01"]["error"] != "").sum() == 1


def test_nothing_scored_is_a_failure_and_bad_input_keeps_the_old_output(mhc_model, tmp_path, capsys):
    output = tmp_path / "scores.csv"
    output.write_text("an earlier result\n")
    bad = tmp_path / "bad.txt"
    bad.write_text("GILGF*FTL\nGILGFVF\n")
    assert main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(bad),
                 "--alleles", "HLA-A*02:01", "-o", str(tmp_path / "none.csv")]) == 1
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"peptide": GOOD, "allele": "HLA-A*02:01"}).to_csv(pairs, index=False)
    capsys.readouterr()
    assert main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(pairs),
                 "--alleles", "HLA-A*02:01", "-o", str(output)]) == 2
    assert "allele column and --alleles" in capsys.readouterr().err
    assert output.read_text() == "an earlier result\n"
    assert main(["peptides", "score", "--model", str(tmp_path), "--peptides", str(pairs), "-o", str(output)]) == 2
    assert "not a molprior MHC model" in capsys.readouterr().err


def test_alleles_lists_counts(mhc_model, capsys):
    assert main(["peptides", "alleles", "--model", str(mhc_model[0])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["allele", "measurements", "binders", "role", "head"]
    assert [line.split()[0] for line in lines[1:]] == TRAINED
    assert main(["peptides", "alleles", "--model", str(mhc_model[0]), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["allele"] for r in rows] == TRAINED
    assert all(r["measurements"] >= 200 and 0 < r["binders"] < r["measurements"] for r in rows)
    a0201 = next(line for line in lines if line.startswith("HLA-A*02:01")).split()
    first = rows[0]
    assert a0201[1:4] == [str(first["measurements"]), str(first["binders"]), "meta-train"]


def test_adapt_a_new_allele_then_score_and_list_it(mhc_model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # this test's MLflow store keeps its artifacts in ./mlartifacts
    held = pd.read_csv(mhc_model[2])
    support = tmp_path / "b3501.csv"
    held.head(32)[["peptide", "ic50", "measurement_inequality"]].to_csv(support, index=False)
    out = tmp_path / "adapted"
    assert main(["peptides", "adapt", "--allele", "B3501", "--measurements", str(support), "--model",
                 str(mhc_model[0]), "-o", str(out), "--no-register", "--steps", "10"]) == 0
    printed = capsys.readouterr().out
    assert "adapted HLA-B*35:01 to 32 measurements" in printed and "0 rows rejected" in printed
    assert "registered" not in printed
    assert (out / "support.csv").exists() and (out / "rejected.csv").exists()

    assert main(["peptides", "alleles", "--model", str(out), "--json"]) == 0
    rows = {r["allele"]: r for r in json.loads(capsys.readouterr().out)}
    assert sorted(rows) == sorted(TRAINED + ["HLA-B*35:01"])
    assert rows["HLA-B*35:01"]["measurements"] == 32 and rows["HLA-B*35:01"]["role"] == "adapted"
    assert "10 steps" in rows["HLA-B*35:01"]["head"]

    peptides = tmp_path / "peptides.txt"
    peptides.write_text("\n".join(GOOD) + "\n")
    assert main(["peptides", "score", "--model", str(out), "--peptides", str(peptides), "--alleles",
                 "HLA-B*35:01,HLA-A*02:01", "-o", str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    assert (scores["error"] == "").all() and scores["allele"].tolist() == ["HLA-B*35:01", "HLA-A*02:01"] * 5


def test_adapt_refuses_too_few_measurements(mhc_model, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    held = pd.read_csv(mhc_model[2])
    support = tmp_path / "b3501.csv"
    held.head(10).to_csv(support, index=False)
    assert main(["peptides", "adapt", "--allele", "HLA-B*35:01", "--measurements", str(support), "--model",
                 str(mhc_model[0]), "-o", str(tmp_path / "adapted"), "--no-register"]) == 2
    assert "10 usable measurements for HLA-B*35:01; adaptation needs at least 16" in capsys.readouterr().err
    assert main(["peptides", "adapt", "--allele", "HLA-A*02", "--measurements", str(support), "--model",
                 str(mhc_model[0]), "-o", str(tmp_path / "adapted"), "--no-register"]) == 2
    assert "allele group" in capsys.readouterr().err
    assert not (tmp_path / "adapted").exists()


def test_train_refuses_an_unknown_configuration_key(tmp_path, capsys):
    config = tmp_path / "mhc.yaml"
    config.write_text("steps_per_epoch: 5\nlearning_rate: 0.1\n")
    assert main(["peptides", "train", "--config", str(config), "-o", str(tmp_path / "out"), "--no-register"]) == 2
    assert "unknown MHCTrainConfig keys ['learning_rate']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_train_needs_its_validation_alleles_in_the_data(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "a0101.csv"
    pd.read_csv(MHC_FILE, nrows=3000).query("allele == 'HLA-A*01:01'").head(40).to_csv(data, index=False)
    config = tmp_path / "mhc.yaml"
    config.write_text(f"data: {data}\nprior: default\nval_alleles: [HLA-A*68:01]\n")
    assert main(["peptides", "train", "--config", str(config), "-o", str(tmp_path / "out"), "--no-register"]) == 2
    assert "none of the meta-validation alleles ['HLA-A*68:01'] is in the data" in capsys.readouterr().err
    assert len(pd.read_csv(data)) == 40


def test_score_notes_the_empty_lines_it_skipped(mhc_model, peptides, tmp_path, capsys):
    assert main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(peptides),
                 "--alleles", "HLA-A*02:01", "-o", str(tmp_path / "scores.csv")]) == 0
    assert "note: 1 empty line skipped (line 3)" in capsys.readouterr().out


def test_score_refuses_a_directory_or_the_input_as_output_with_a_message(mhc_model, peptides, tmp_path, capsys):
    before = peptides.read_bytes()
    for output in (tmp_path, peptides):
        assert main(["peptides", "score", "--model", str(mhc_model[0]), "--peptides", str(peptides),
                     "--alleles", "HLA-A*02:01", "-o", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("molprior peptides: error: --output ") and "Traceback" not in err
        assert ("is a directory" if output == tmp_path else "would replace the input") in err
    assert peptides.read_bytes() == before


def test_adapt_and_predict_take_an_mhc_model_as_they_take_an_assay_model(mhc_model, tmp_path, capsys, monkeypatch):
    """``molprior adapt|predict`` with an MHC model: the allele is the assay; the same outputs
    as ``molprior peptides adapt|score``."""
    monkeypatch.chdir(tmp_path)
    held = pd.read_csv(mhc_model[2])
    support = tmp_path / "b3501.csv"
    held.head(32)[["peptide", "ic50", "measurement_inequality"]].to_csv(support, index=False)
    assert main(["adapt", "--model", str(mhc_model[0]), "-i", str(support), "-o", str(tmp_path / "x")]) == 2
    assert "give it as --assay" in capsys.readouterr().err
    assert main(["adapt", "--model", str(mhc_model[0]), "-i", str(support), "--assay", "B3501",
                 "-o", str(tmp_path / "adapted")]) == 0
    assert "adapted HLA-B*35:01 to 32 measurements" in capsys.readouterr().out
    peptides = tmp_path / "peptides.txt"
    peptides.write_text("\n".join(GOOD) + "\n")
    args = ["-i", str(peptides), "--assay", "HLA-B*35:01,HLA-A*02:01"]
    assert main(["predict", "--model", str(tmp_path / "adapted"), *args, "-o", str(tmp_path / "a.csv")]) == 0
    assert main(["peptides", "score", "--model", str(tmp_path / "adapted"), "--peptides", str(peptides),
                 "--alleles", "HLA-B*35:01,HLA-A*02:01", "-o", str(tmp_path / "b.csv")]) == 0
    ours, theirs = pd.read_csv(tmp_path / "a.csv"), pd.read_csv(tmp_path / "b.csv")
    pd.testing.assert_frame_equal(ours, theirs)
    assert ours["allele"].tolist() == ["HLA-B*35:01", "HLA-A*02:01"] * 5 and ours["error"].isna().all()
    # adapting on the fly, as predict --support does for an assay: the same model, the same scores
    assert main(["predict", "--model", str(mhc_model[0]), "--support", str(support), "-i", str(peptides),
                 "--assay", "HLA-B*35:01", "-o", str(tmp_path / "c.csv")]) == 0
    on_the_fly = pd.read_csv(tmp_path / "c.csv")
    b3501 = ours[ours["allele"] == "HLA-B*35:01"]
    assert on_the_fly["ic50_nm"].tolist() == b3501["ic50_nm"].tolist() and len(on_the_fly) == 5
    assert main(["predict", "--model", str(mhc_model[0]), "--support", str(support), *args,
                 "-o", str(tmp_path / "d.csv")]) == 2
    assert "the one allele the measurements are of" in capsys.readouterr().err
