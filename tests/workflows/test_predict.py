"""Streaming ``predict``: chunked scoring equals whole-file scoring, rows stay in order, and a
failed run leaves the previous output untouched."""

from __future__ import annotations

import pandas as pd
import pytest

from molprior.inference.scorer import Scorer
from molprior.workflows.predict import iter_molecules, run_predict
from _fewshot import MOLECULEACE_DIR


def _library(path, n=60):
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(n).tolist()
    lines = ["id,smiles"] + [f"m{i},{s}" for i, s in enumerate(smiles)]
    lines.insert(8, "bad1,C1CC")            # unparseable SMILES
    lines.insert(20, "bad2,CCO,surplus")    # malformed CSV line
    lines.insert(33, "")                    # empty line: skipped
    lines.insert(41, "bad3,")               # no SMILES
    path.write_text("\n".join(lines) + "\n")
    return path


def test_chunked_scoring_equals_scoring_at_once(fewshot_models, tmp_path):
    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    whole = run_predict(adapted, library, tmp_path / "whole.csv", chunk_rows=10_000)
    chunked = run_predict(adapted, library, tmp_path / "chunked.csv", chunk_rows=7)
    a = pd.read_csv(tmp_path / "whole.csv", keep_default_na=False)
    b = pd.read_csv(tmp_path / "chunked.csv", keep_default_na=False)
    pd.testing.assert_frame_equal(a, b)
    assert whole.rows == chunked.rows == 63 and whole.errors == 3
    assert a["id"].tolist()[:8] == [f"m{i}" for i in range(7)] + ["bad1"]
    assert "malformed line" in a.loc[a["id"] == "", "error"].item()
    assert a.loc[a["id"] == "bad3", "error"].item() != ""
    assert a.loc[a["error"] == "", "probability_active"].astype(float).between(0, 1).all()


def test_scores_match_the_scorer_on_the_same_molecules(fewshot_models, tmp_path):
    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    run_predict(adapted, library, tmp_path / "out.csv", chunk_rows=5)
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    ok = out[out["error"] == ""]
    direct = Scorer.load(adapted).score(ok["smiles"].tolist())
    assert ok["probability_active"].astype(float).to_numpy() == pytest.approx(direct["probability_active"].to_numpy(),
                                                                              abs=1e-6)


def test_smiles_files_stream_in_chunks(tmp_path):
    (tmp_path / "lib.smi").write_text("smiles\nCCO ethanol\n\nc1ccccc1 benzene\nCCN\n")
    chunks = list(iter_molecules(tmp_path / "lib.smi", chunk_rows=2))
    assert [len(frame) for frame, _ in chunks] == [2, 1]
    frame = pd.concat([f for f, _ in chunks])
    assert frame.index.tolist() == [2, 4, 5] and frame["name"].tolist() == ["ethanol", "benzene", ""]


def test_a_failed_run_leaves_the_previous_output_intact(fewshot_models, tmp_path, monkeypatch):
    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    run_predict(adapted, library, tmp_path / "out.csv", chunk_rows=10)
    good = (tmp_path / "out.csv").read_bytes()
    calls = {"n": 0}
    original = Scorer.score

    def dies_on_the_third_chunk(self, smiles, jobs=1):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, smiles, jobs)

    monkeypatch.setattr(Scorer, "score", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_predict(adapted, library, tmp_path / "out.csv", chunk_rows=10)
    assert (tmp_path / "out.csv").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []
