"""The molprior command: help for every subcommand, data list/fetch/check, benchmark, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from molprior.cli.main import build_parser, main

ROOT = Path(__file__).resolve().parents[2]
SUBCOMMANDS = [[], ["data"], ["data", "list"], ["data", "fetch"], ["data", "check"], ["pretrain"], ["generate"], ["benchmark"],
               ["benchmark", "fewshot"], ["benchmark", "regression"], ["metatrain"], ["adapt"], ["predict"], ["demo"]]


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "molprior")
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    assert "usage: molprior" in capsys.readouterr().out


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "molprior", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("molprior ")


def test_data_list_shows_sources_and_licences(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("tox21", "toxcast", "sider", "muv", "clintox", "bbbp", "bace", "hiv", "esol", "freesolv",
                 "lipophilicity", "moleculeace", "mhc_class1", "moses", "fsmol"):
        assert name in out
    assert "MIT" in out and "Apache-2.0" in out and "md5:2882d69e" in out


def test_data_fetch_offline_fails_clearly(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MOLPRIOR_DATA_MIRROR", str(tmp_path))  # an empty mirror: nothing to take
    assert main(["data", "fetch", "tox21"]) == 1
    err = capsys.readouterr().err
    assert "MOLPRIOR_DATA_MIRROR" in err and "tox21.csv.gz" in err


def test_data_fetch_unknown_name_lists_known_ones(capsys):
    assert main(["data", "fetch", "tox22"]) == 1
    assert "tox21" in capsys.readouterr().err


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


def test_benchmark_fewshot_writes_results(tmp_path, capsys):
    out = tmp_path / "bench"
    code = main(["-q", "benchmark", "fewshot", "--input", str(ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv"),
                 "--test-assays", "CHEMBL4203_Ki", "--support-sizes", "16", "--draws", "2", "-o", str(out), "-j", "1"])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["method", "support_size", "metric", "mean", "std", "n_tasks", "n_draws"]
    assert set(results["method"]) == {"rf_ecfp", "knn_tanimoto"}
    assert (out / "per_task.csv").exists() and (out / "delta_auprc.png").stat().st_size > 1000
    assert "delta_auprc@16" in capsys.readouterr().out


def test_benchmark_fewshot_wide_file_with_test_columns(tmp_path):
    """A MoleculeNet-style wide file: one column per assay, binary labels, blanks unmeasured."""
    frame = pd.read_csv(ROOT / "data" / "moleculeace" / "CHEMBL214_Ki.csv").head(120)
    wide = pd.DataFrame({"smiles": frame["smiles"],
                         "task_a": (frame["y"] > frame["y"].median()).astype(int),
                         "task_b": (frame["cliff_mol"]).astype(float).where(frame.index % 5 != 0)})
    path = tmp_path / "wide.csv"
    wide.to_csv(path, index=False)
    out = tmp_path / "bench"
    assert main(["-q", "benchmark", "fewshot", "--input", str(path), "--test-assays", "task_a",
                 "--support-sizes", "20", "--draws", "2", "--methods", "knn_tanimoto", "-o", str(out)]) == 0
    results = pd.read_csv(out / "results.csv")
    assert set(results["method"]) == {"knn_tanimoto"} and (results["n_tasks"] == 1).all()


def test_benchmark_unknown_method_is_an_error(tmp_path, capsys):
    code = main(["benchmark", "fewshot", "--input", str(ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv"),
                 "--test-assays", "CHEMBL4203_Ki", "--methods", "magic", "-o", str(tmp_path)])
    assert code == 2
    assert "unknown methods ['magic']" in capsys.readouterr().err


def test_parser_knows_all_commands():
    parser = build_parser()
    assert parser.parse_args(["data", "list"]).handler.__name__ == "run_list"


def test_pretrain_then_generate(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text("batch_size: 32\nencoder: {hidden_dim: 16, num_layers: 2}\n"
                      "decoder: {latent_dim: 8, hidden_dim: 32, embedding_dim: 8}\n"
                      "optim: {sample_size: 20, reconstruction_size: 10}\ntrainer: {max_epochs: 1}\n")
    out = tmp_path / "prior"
    code = main(["-q", "pretrain", "--config", str(config), "--corpus", str(ROOT / "data" / "moses" / "moses_train_50k.csv.gz"),
                 "--max-molecules", "120", "--output", str(out), "-j", "1"])
    assert code == 0
    assert "final_sample_validity" in capsys.readouterr().out
    samples = tmp_path / "samples.csv"
    assert main(["-q", "generate", "--model", str(out), "-n", "15", "--output", str(samples), "--seed", "3"]) == 0
    frame = pd.read_csv(samples, keep_default_na=False)
    assert len(frame) == 15 and list(frame.columns) == ["smiles"]
    assert "validity" in capsys.readouterr().out


def test_pretrain_empty_corpus_is_a_clear_error(tmp_path, capsys):
    corpus = tmp_path / "bad.smi"
    corpus.write_text("garbage\nC1CC\n")
    assert main(["pretrain", "--corpus", str(corpus), "--output", str(tmp_path / "out")]) == 2
    assert "no usable molecule" in capsys.readouterr().err


def test_generate_with_a_missing_model(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "absent"), "-n", "3", "-o", str(tmp_path / "x.csv")]) == 2
    assert "no such model directory" in capsys.readouterr().err


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


def test_registry_promote_force_needs_a_reason(tmp_path, monkeypatch, capsys):
    from molprior.tracking import registry

    monkeypatch.chdir(tmp_path)
    client = registry.client()
    client.create_registered_model("forced")
    for score in ("0.3", "0.1"):
        client.create_model_version("forced", str(tmp_path), tags={registry.BENCHMARK_METRIC_TAG: "auprc",
                                                                   registry.METRIC_PREFIX + "auprc": score})
    assert main(["registry", "promote", "forced", "1"]) == 0
    capsys.readouterr()
    for reason in ([], ["--reason", ""], ["--reason", "  "]):
        assert main(["registry", "promote", "forced", "2", "--force", *reason]) == 2
        err = capsys.readouterr().err
        assert err.startswith("molprior registry promote: error: --force needs --reason") and "Traceback" not in err
    assert registry.aliases_of("forced") == {"champion": "1"}
    assert main(["registry", "promote", "forced", "2", "--force", "--reason", "assay re-measured"]) == 0
    assert registry.aliases_of("forced") == {"champion": "2"}
    assert registry.get_version("forced@champion").tags["molprior.promoted.champion.reason"] == "assay re-measured"


def test_sigterm_during_predict_leaves_no_part_file_and_the_earlier_output(fewshot_models, tmp_path):
    """A real ``molprior predict`` (worker pools on) on ~13,000 molecules, sent SIGTERM once its
    temporary output exists: it exits 143 after its clean-up, the earlier scores intact."""
    import os
    import signal
    import time

    library = tmp_path / "library.csv"
    names = ["CHEMBL234_Ki", "CHEMBL214_Ki", "CHEMBL233_Ki", "CHEMBL244_Ki"]
    pd.concat([pd.read_csv(ROOT / "data" / "moleculeace" / f"{n}.csv")[["smiles"]] for n in names]).to_csv(
        library, index=False)
    output = tmp_path / "scores.csv"
    output.write_text("smiles,probability_active\nCCO,0.5\n")  # an earlier run's scores
    process = subprocess.Popen([sys.executable, "-m", "molprior", "predict", "--model", str(fewshot_models[1]),
                                "--input", str(library), "--output", str(output), "--jobs", "2", "--chunk-rows",
                                "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".scores.csv.*.part")):
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.05)
        time.sleep(1.5)  # well into the first chunk
        assert process.poll() is None, "predict finished before it could be terminated"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err[-2000:]
    assert "terminated" in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.part"))
    assert output.read_text() == "smiles,probability_active\nCCO,0.5\n"


@pytest.mark.parametrize("quiet, expected", [(False, ["scoring: 10 of 10 (100%)"]), (True, [])])
def test_progress_goes_to_the_log_when_stderr_is_no_terminal(quiet, expected, caplog):
    """Under pytest stderr is captured, as in a run writing to a log file: progress comes as log
    lines rather than a bar (and not at all with -q)."""
    from molprior.cli.main import configure_logging
    from molprior.workflows import progress

    try:
        configure_logging(verbose=False, quiet=quiet)
        with caplog.at_level("INFO", logger="molprior.workflows.progress"):
            with progress.progress_bar("scoring", 10) as advance:
                advance(10)
    finally:
        progress.set_mode("bar")
    assert [r.getMessage().split(",")[0] for r in caplog.records] == expected


def _failing_check(error: Exception):
    def handler(args):
        raise error
    return handler


@pytest.mark.parametrize("error", [ValueError("operands could not be broadcast"), KeyError("head.net.3"),
                                   RuntimeError("size mismatch")])
def test_a_bug_exits_1_and_points_to_the_traceback(error, tmp_path, capsys, monkeypatch):
    """Only the user's mistakes exit 2; an exception molprior did not raise for the user is a
    bug: status 1, its type named, and -v shows the traceback."""
    from molprior.cli import data

    monkeypatch.setattr(data, "run_check", _failing_check(error))
    args = ["data", "check", "x.csv", "-o", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"internal error ({type(error).__name__})" in err and "-v" in err
    with pytest.raises(type(error)):
        main(["-v", *args])


def test_a_user_error_exits_2_and_shows_its_message(tmp_path, capsys, monkeypatch):
    from molprior.cli import data
    from molprior.errors import InputError

    monkeypatch.setattr(data, "run_check", _failing_check(InputError("no column 'smiles'")))
    assert main(["data", "check", "x.csv", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == "molprior data: error: no column 'smiles'"


def test_benchmark_mhc_reads_its_configuration_and_measures_throughput(mhc_model, tmp_path, monkeypatch, capsys):
    import json

    import yaml

    model_dir, uri, held_out_csv = mhc_model
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = tmp_path / "mhc_benchmark.yaml"
    config.write_text(yaml.safe_dump({"speed_peptides": 200, "speed_alleles": 2}))
    assert main(["-q", "benchmark", "mhc", "--config", str(config), "-i", str(held_out_csv), "--speed-only",
                 "--model", str(model_dir), "-o", str(tmp_path / "out")]) == 0
    speed = json.loads((tmp_path / "out" / "mhc_speed.json").read_text())
    assert speed["peptides_per_s_genotype"] > 0 and "peptides_per_s_genotype:" in capsys.readouterr().out
    config.write_text(yaml.safe_dump({"held_out": ["HLA-B*35:01"], "no_such_key": 1}))
    assert main(["benchmark", "mhc", "--config", str(config), "-o", str(tmp_path / "out2")]) == 2
    assert "unknown MHCBenchmarkConfig keys ['no_such_key']" in capsys.readouterr().err
