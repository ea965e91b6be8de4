"""molprior.cli.data: ``molprior data list``, ``data fetch`` (from a mirror, into the cache, its
checksum verified) and ``data check`` (standardise a file, report every rejected line)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from molprior.cli.main import main
from molprior.data.catalog import DATASETS, UrlSource

ROOT = Path(__file__).resolve().parents[2]


def test_data_list_shows_sources_and_licences(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("tox21", "toxcast", "sider", "muv", "clintox", "bbbp", "bace", "hiv", "esol", "freesolv",
                 "lipophilicity", "moleculeace", "mhc_class1", "moses", "fsmol"):
        assert name in out
    assert "MIT" in out and "Apache-2.0" in out and "md5:2882d69e" in out


def test_data_list_names_the_cache_and_the_mirror_variable(tmp_path, monkeypatch, capsys):
    cache = tmp_path / "c"
    monkeypatch.setenv("MOLPRIOR_CACHE_DIR", str(cache))
    assert main(["data", "list"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last.startswith(f"cache: {cache}") and "mirror: $MOLPRIOR_DATA_MIRROR" in last


def test_data_fetch_offline_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOLPRIOR_DATA_MIRROR", str(tmp_path))  # an empty mirror: nothing to take
    assert main(["data", "fetch", "tox21"]) == 1
    err = capsys.readouterr().err
    assert "MOLPRIOR_DATA_MIRROR" in err and "tox21.csv.gz" in err


def test_data_fetch_unknown_name_lists_known_ones(capsys):
    assert main(["data", "fetch", "tox22"]) == 1
    assert "tox21" in capsys.readouterr().err


@pytest.fixture
def bbbp_in_a_mirror(tmp_path, monkeypatch) -> bytes:
    """A mirror directory holding ``BBBP.csv`` (a few real MoleculeACE molecules), with the
    bbbp catalog entry's pinned checksum replaced by that file's md5: returns the file's bytes."""
    frame = pd.read_csv(ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv").head(5)
    content = frame[["smiles", "cliff_mol"]].rename(columns={"cliff_mol": "p_np"}).to_csv(index=False).encode()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "BBBP.csv").write_bytes(content)
    monkeypatch.setenv("MOLPRIOR_DATA_MIRROR", str(mirror))
    source = UrlSource(DATASETS["bbbp"].source.url, "md5:" + hashlib.md5(content).hexdigest())
    monkeypatch.setitem(DATASETS, "bbbp", dataclasses.replace(DATASETS["bbbp"], source=source))
    return content


def test_data_fetch_takes_the_mirrors_file_into_the_cache_and_prints_its_path(bbbp_in_a_mirror, tmp_path,
                                                                               monkeypatch, capsys):
    cache = tmp_path / "cache-here"
    assert main(["data", "fetch", "bbbp", "--cache-dir", str(cache)]) == 0
    fetched = cache / "bbbp" / "BBBP.csv"
    assert capsys.readouterr().out == f"{fetched}\n"
    assert fetched.read_bytes() == bbbp_in_a_mirror
    monkeypatch.delenv("MOLPRIOR_DATA_MIRROR")  # no mirror, no network: the cached file is verified and used
    assert main(["data", "fetch", "BBBP", "--cache-dir", str(cache)]) == 0
    assert capsys.readouterr().out == f"{fetched}\n"


def test_data_fetch_refuses_a_mirror_file_that_fails_its_checksum_and_keeps_nothing(bbbp_in_a_mirror, tmp_path,
                                                                                     capsys):
    (tmp_path / "mirror" / "BBBP.csv").write_bytes(bbbp_in_a_mirror.replace(b"\n", b"\r\n"))  # other bytes
    assert main(["data", "fetch", "bbbp", "--cache-dir", str(tmp_path / "cache")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "checksum mismatch for BBBP.csv" in captured.err
    assert captured.err.startswith("molprior data fetch: error: ")
    assert not (tmp_path / "cache" / "bbbp" / "BBBP.csv").exists()  # the next fetch tries again


def test_data_check_messy_file(tmp_path, capsys):
    messy = tmp_path / "messy.csv"
    rows = [
        "smiles,activity",
        "CC(=O)Oc1ccccc1C(=O)O,5.2",           # aspirin
        ",4.0",                                 # empty SMILES
        "not a molecule,3.0",                   # garbage
        "C(C)(C)(C)(C)C,2.0",                   # valence error
        "CN1C=NC2=C1C(=O)N(C(=O)N2C)C,abc",     # caffeine, non-numeric value
        "CC(C)Cc1ccc(cc1)C(C)C(=O)O,nan",       # ibuprofen, NaN value
        "[Na+].CC(=O)Oc1ccccc1C(=O)[O-],6.2",   # aspirin sodium salt: merges with line 2
        "C" * 1500 + ",1.0",                    # 1,500 heavy atoms
    ]
    messy.write_text("\n".join(rows) + "\n")
    out = tmp_path / "out"
    assert main(["-q", "data", "check", str(messy), "-o", str(out), "-j", "1"]) == 0
    rejected = pd.read_csv(out / "rejected.csv")
    reasons = dict(zip(rejected["line"], rejected["reason"]))
    assert reasons[3] == "empty SMILES"
    assert "syntax error" in reasons[4]
    assert "valence" in reasons[5]
    assert "non-numeric value 'abc'" in reasons[6]
    assert "no measurement" in reasons[7]
    assert "too large: 1500 heavy atoms" in reasons[9]
    kept = pd.read_csv(out / "standardized.csv")
    assert kept["smiles"].tolist() == ["CC(=O)Oc1ccccc1C(=O)O"]
    assert kept["value"].iloc[0] == pytest.approx(5.7)  # mean of 5.2 and 6.2
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rows_rejected"] == 6 and summary["duplicate_groups"] == 1
    assert "1 duplicate groups merged" in capsys.readouterr().out
    run = mlflow.search_runs(experiment_names=["molprior"]).iloc[0]
    assert run["tags.molprior.command"] == "data-check"
    assert run["params.input.sha256"]
    assert run["metrics.rows_rejected"] == 6


def test_data_check_misnamed_column_lists_columns(tmp_path, capsys):
    path = tmp_path / "assay.csv"
    path.write_text("smile,pIC50\nCCO,5\n")
    assert main(["data", "check", str(path), "-o", str(tmp_path / "out"), "--smiles-column", "SMILES_"]) == 2
    err = capsys.readouterr().err
    assert "'smile'" in err and "'pIC50'" in err


def test_data_check_missing_file(tmp_path, capsys):
    assert main(["data", "check", str(tmp_path / "nope.csv"), "-o", str(tmp_path / "out")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_data_check_takes_its_input_as_i_too_and_once(tmp_path, capsys):
    path = tmp_path / "assay.csv"
    path.write_text("smiles,pIC50\nCCO,5\nCCN,6\n")
    assert main(["-q", "data", "check", "-i", str(path), "-o", str(tmp_path / "out"), "-j", "1"]) == 0
    assert (tmp_path / "out" / "standardized.csv").exists()
    assert main(["data", "check", str(path), "-i", str(tmp_path / "other.csv"), "-o", str(tmp_path / "o2")]) == 2
    assert "two inputs given" in capsys.readouterr().err
    assert main(["data", "check", "-o", str(tmp_path / "o3")]) == 2
    assert "needs an input: INPUT or -i/--input" in capsys.readouterr().err


def test_data_check_a_named_library_keeps_its_names(tmp_path, capsys):
    library = tmp_path / "library.csv"
    library.write_text("smiles,name\nCC(=O)Oc1ccccc1C(=O)O,aspirin\nCn1c(=O)c2c(ncn2C)n(C)c1=O,caffeine\n")
    assert main(["-q", "data", "check", str(library), "-o", str(tmp_path / "out"), "-j", "1"]) == 0
    out = capsys.readouterr().out
    assert "(smiles)" in out and "0 lines rejected" in out
    assert "identifier columns carried along (not measurements): name" in out
    kept = pd.read_csv(tmp_path / "out" / "standardized.csv")
    assert kept[["smiles", "name"]].values.tolist() == [["CC(=O)Oc1ccccc1C(=O)O", "aspirin"],
                                                        ["Cn1c(=O)c2c(ncn2C)n(C)c1=O", "caffeine"]]


def test_data_check_an_unbalanced_quote_is_one_rejected_line(tmp_path, capsys):
    molecules = ["CCO", "c1ccccc1", "CC(=O)Oc1ccccc1C(=O)O", "CCN", "CCCO"]
    lines = ["smiles,pIC50", '"CC(=O,2'] + [f"{'C' * (i + 1)}O,{5 + i / 100:.2f}" for i in range(45)] + \
        [f"{m},6.0" for m in molecules]
    (tmp_path / "quoted.csv").write_text("\n".join(lines) + "\n")
    assert len(lines) == 52
    assert main(["-q", "data", "check", str(tmp_path / "quoted.csv"), "-o", str(tmp_path / "out"), "-j", "1"]) == 0
    assert "50 measurements read" in capsys.readouterr().out
    rejected = pd.read_csv(tmp_path / "out" / "rejected.csv", keep_default_na=False)
    assert rejected[["line", "input"]].values.tolist() == [[2, '"CC(=O,2']]


def test_data_check_refuses_an_output_file_with_a_message(tmp_path, capsys):
    library = tmp_path / "library.csv"
    library.write_text("smiles,pIC50\nCCO,5.1\n")
    existing = tmp_path / "out.csv"
    existing.write_text("an earlier result\n")
    for output in (existing, library):
        assert main(["-q", "data", "check", str(library), "-o", str(output), "-j", "1"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("molprior data check: error: --output ") and "is an existing file" in err
        assert "Traceback" not in err
    assert existing.read_text() == "an earlier result\n" and library.read_text() == "smiles,pIC50\nCCO,5.1\n"


def test_data_check_options_keep_fragments_and_charges_and_cap_the_size(tmp_path, capsys):
    """--keep-fragments, --keep-charges and --max-heavy-atoms reach the standardisation, and the
    run records them; without them the salt becomes its neutral parent."""
    path = tmp_path / "salts.csv"
    path.write_text("smiles,pIC50\nCC(=O)[O-].[Na+],5.0\nCn1c(=O)c2c(ncn2C)n(C)c1=O,6.0\n")  # sodium acetate, caffeine
    assert main(["-q", "data", "check", str(path), "-o", str(tmp_path / "default"), "-j", "1"]) == 0
    assert pd.read_csv(tmp_path / "default" / "standardized.csv")["smiles"].tolist() == [
        "CC(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"]
    assert main(["-q", "data", "check", str(path), "-o", str(tmp_path / "kept"), "-j", "1", "--keep-fragments",
                 "--keep-charges", "--max-heavy-atoms", "10"]) == 0
    assert "1 lines rejected" in capsys.readouterr().out
    assert pd.read_csv(tmp_path / "kept" / "standardized.csv")["smiles"].tolist() == ["CC(=O)[O-].[Na+]"]
    rejected = pd.read_csv(tmp_path / "kept" / "rejected.csv")
    assert rejected[["line", "reason"]].values.tolist() == [[3, "too large: 14 heavy atoms (limit 10)"]]
    runs = mlflow.search_runs(experiment_names=["molprior"], order_by=["attributes.start_time DESC"])
    assert runs[["params.largest_fragment", "params.neutralize", "params.max_heavy_atoms"]].values.tolist() == [
        ["False", "False", "10"], ["True", "True", "1000"]]


def test_data_check_canonical_tautomer_merges_tautomers(tmp_path, capsys):
    path = tmp_path / "tautomers.csv"
    path.write_text("smiles,pIC50\nOc1ccccn1,5.0\nO=c1cccc[nH]1,6.0\n")  # 2-hydroxypyridine and 2-pyridone
    assert main(["-q", "data", "check", str(path), "-o", str(tmp_path / "as-drawn"), "-j", "1"]) == 0
    assert "0 duplicate groups merged" in capsys.readouterr().out
    assert main(["-q", "data", "check", str(path), "-o", str(tmp_path / "tautomers"), "-j", "1",
                 "--canonical-tautomer"]) == 0
    assert "1 duplicate groups merged" in capsys.readouterr().out
    kept = pd.read_csv(tmp_path / "tautomers" / "standardized.csv")
    assert kept["smiles"].tolist() == ["O=c1cccc[nH]1"] and kept["value"].tolist() == [pytest.approx(5.5)]


def test_data_check_a_moleculeace_file_and_where_its_outputs_went(tmp_path, capsys):
    source = ROOT / "data" / "moleculeace" / "CHEMBL2835_Ki.csv"
    out = tmp_path / "out"
    assert main(["-q", "data", "check", "-i", str(source), "-o", str(out), "-j", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{source} (moleculeace): 615 measurements read, ") and " in 1 assays; " in lines[0]
    listed = {line.split()[0]: Path(line.split()[1]) for line in lines[1:]}
    assert set(listed) == {"standardized", "rejected", "duplicates", "summary"}
    assert all(path.parent == out and path.exists() for path in listed.values())
    kept = pd.read_csv(listed["standardized"])
    assert set(kept["assay"]) == {"CHEMBL2835_Ki"}
    summary = json.loads(listed["summary"].read_text())
    assert summary["measurements_read"] == 615 and summary["measurements_kept"] == len(kept)
