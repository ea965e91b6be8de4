"""Streaming ``predict``: chunked scoring equals whole-file scoring, rows stay in order, and a
failed run leaves the previous output untouched."""

from __future__ import annotations

import pandas as pd
import pytest

from molprior.inference.assay_scoring import AssayScorer
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
    assert (tmp_path / "whole.csv").read_bytes() == (tmp_path / "chunked.csv").read_bytes()
    a = pd.read_csv(tmp_path / "whole.csv", keep_default_na=False)
    assert whole.rows == chunked.rows == 63 and whole.errors == 3
    assert a["id"].tolist()[:8] == [f"m{i}" for i in range(7)] + ["bad1"]
    assert "malformed line" in a.loc[a["id"] == "", "error"].item()
    assert a.loc[a["id"] == "bad3", "error"].item() != ""
    assert a.loc[a["error"] == "", "probability_active"].astype(float).between(0, 1).all()


def test_output_bytes_do_not_depend_on_chunking_order_jobs_or_threads(fewshot_models, tmp_path):
    """The property behind the chunk test, over many chunk sizes (seeded draws), worker
    counts, torch thread counts and a shuffled copy of the library: one machine writes the
    same scores, bit for bit (see molprior.models.fixed_blocks)."""
    import random

    import torch

    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    reference = run_predict(adapted, library, tmp_path / "reference.csv", chunk_rows=10_000)
    expected = (tmp_path / "reference.csv").read_bytes()
    sizes = [1, 2, 3, 5, 64] + random.Random(13).sample(range(4, 63), 5)
    for size in sizes:
        run_predict(adapted, library, tmp_path / f"chunk{size}.csv", chunk_rows=size)
        assert (tmp_path / f"chunk{size}.csv").read_bytes() == expected, f"chunk_rows={size}"
    run_predict(adapted, library, tmp_path / "jobs.csv", chunk_rows=11, jobs=2)
    assert (tmp_path / "jobs.csv").read_bytes() == expected
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        run_predict(adapted, library, tmp_path / "threads.csv", chunk_rows=9)
    finally:
        torch.set_num_threads(threads)
    assert (tmp_path / "threads.csv").read_bytes() == expected
    lines = library.read_text().splitlines()
    body = [line for line in lines[1:] if line.startswith("m")]
    random.Random(5).shuffle(body)
    (tmp_path / "shuffled.csv").write_text("\n".join([lines[0], *body]) + "\n")
    run_predict(adapted, tmp_path / "shuffled.csv", tmp_path / "shuffled_out.csv", chunk_rows=4)
    columns = ["smiles", "probability_active", "support_similarity", "error"]
    # read as text: the written digits themselves must agree
    ordered = pd.read_csv(tmp_path / "reference.csv", dtype=str, keep_default_na=False).set_index("id")
    shuffled = pd.read_csv(tmp_path / "shuffled_out.csv", dtype=str, keep_default_na=False).set_index("id")
    assert reference.rows == 63 and len(shuffled) == 60
    pd.testing.assert_frame_equal(shuffled[columns].sort_index(), ordered.loc[shuffled.index, columns].sort_index())


def test_with_the_model_on_a_gpu_workers_only_read_and_the_file_is_the_same(fewshot_models, tmp_path, monkeypatch):
    """The layout ``--device cuda`` uses (workers standardise and featurise, this process runs
    the model), here with the model on the CPU: the same bytes as workers that score."""
    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    run_predict(adapted, library, tmp_path / "workers.csv", chunk_rows=11, jobs=2, device="cpu")
    monkeypatch.setattr(AssayScorer, "workers_run_the_model", property(lambda self: False))
    run_predict(adapted, library, tmp_path / "here.csv", chunk_rows=11, jobs=2)
    assert (tmp_path / "here.csv").read_bytes() == (tmp_path / "workers.csv").read_bytes()


def test_scores_match_the_scorer_on_the_same_molecules(fewshot_models, tmp_path):
    _, adapted = fewshot_models
    library = _library(tmp_path / "library.csv")
    run_predict(adapted, library, tmp_path / "out.csv", chunk_rows=5)
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    ok = out[out["error"] == ""]
    direct = AssayScorer.load(adapted).score(ok["smiles"].tolist())
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
    original = AssayScorer.score

    def dies_on_the_third_chunk(self, smiles, **options):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(self, smiles, **options)

    monkeypatch.setattr(AssayScorer, "score", dies_on_the_third_chunk)
    with pytest.raises(KeyboardInterrupt):
        run_predict(adapted, library, tmp_path / "out.csv", chunk_rows=10)
    assert (tmp_path / "out.csv").read_bytes() == good
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.csv")] == []


def test_an_unbalanced_quote_is_one_errored_row_that_keeps_its_text(fewshot_models, tmp_path):
    _, adapted = fewshot_models
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(50).tolist()
    lines = ["smiles,id", '"CC(=O,2'] + [f"{s},m{i}" for i, s in enumerate(smiles)]
    (tmp_path / "quoted.csv").write_text("\n".join(lines) + "\n")
    assert len(lines) == 52
    outcome = run_predict(adapted, tmp_path / "quoted.csv", tmp_path / "out.csv")
    assert (outcome.rows, outcome.scored, outcome.errors) == (51, 50, 1)  # not "scored 1 of 2 rows"
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert out["smiles"].tolist() == ['"CC(=O,2'] + smiles  # the malformed line's text, then every row in order
    assert "quote" in out["error"][0] and out["id"][0] == ""
    assert out["id"].tolist()[1:] == [f"m{i}" for i in range(50)]


def test_malformed_line_text_is_kept_in_the_smiles_column(tmp_path):
    (tmp_path / "lib.csv").write_text("id,smiles\nm1,CCO\nm2,CCN,surplus\nm3,c1ccccc1\n")
    frame = pd.concat([f for f, _ in iter_molecules(tmp_path / "lib.csv")])
    assert frame.index.tolist() == [2, 3, 4]
    assert frame.loc[3, "smiles"] == "m2,CCN,surplus" and "3 fields" in frame.loc[3, "error"]


@pytest.mark.parametrize("name, content", [
    ("bom.csv", "smiles,name\r\nCCO,ethanol\r\nc1ccccc1,benzene\r\n".encode("utf-8-sig")),
    ("utf16.csv", "smiles,name\r\nCCO,ethanol\r\nc1ccccc1,benzene\r\n".encode("utf-16")),
    ("semicolons.csv", b"SMILES;Name\nCCO;ethanol\nc1ccccc1;benzene\n"),
    ("commas.txt", b"smiles,name\nCCO,ethanol\nc1ccccc1,benzene\n"),
    ("bom.smi", "SMILES Name\nCCO ethanol\nc1ccccc1 benzene\n".encode("utf-8-sig")),
])
def test_files_that_excel_writes_are_read(tmp_path, name, content):
    (tmp_path / name).write_bytes(content)
    frames = list(iter_molecules(tmp_path / name))
    frame, column = frames[0]
    assert frame[column].tolist() == ["CCO", "c1ccccc1"] and (frame["error"] == "").all()
    assert frame.iloc[:, 1].tolist() == ["ethanol", "benzene"]


def test_the_output_is_checked_before_the_model_is_loaded(tmp_path, monkeypatch):
    from molprior.files import OutputPathError
    from molprior.workflows import predict

    def never(*args, **kwargs):
        raise AssertionError("loaded the model before checking the output")

    monkeypatch.setattr(predict, "load_scorer", never)
    library = tmp_path / "library.csv"
    library.write_text("smiles\nCCO\n")
    (tmp_path / "results").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        run_predict("unused", library, tmp_path / "results")
    (tmp_path / "link.csv").symlink_to(library)
    for output in (library, tmp_path / "link.csv"):
        with pytest.raises(OutputPathError, match="would replace the input"):
            run_predict("unused", library, output)
    assert library.read_text() == "smiles\nCCO\n"
