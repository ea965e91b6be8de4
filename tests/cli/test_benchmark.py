"""molprior.cli.benchmark: ``molprior benchmark fewshot`` on real MoleculeACE assays, what its
options become in the few-shot configuration, and its errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import mlflow
import pandas as pd
import pytest

from molprior.cli.benchmark import ALL_METHODS, DESCRIPTION_METHODS
from molprior.cli.main import main
from molprior.files import file_hash

ROOT = Path(__file__).resolve().parents[2]
CHEMBL4203 = ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv"


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


def test_the_command_lists_every_method_the_workflow_runs():
    """ALL_METHODS is kept in the command (so that --help does not import torch): it must name
    exactly the workflow's methods."""
    from molprior.workflows.fewshot import METHODS

    assert len(ALL_METHODS) == len(set(ALL_METHODS)) and set(ALL_METHODS) == set(METHODS)


@pytest.fixture
def captured(monkeypatch, tmp_path):
    """The configuration, output and jobs ``benchmark fewshot`` hands the workflow (which only
    records them and reports a made-up table)."""
    import molprior.workflows.fewshot as workflow

    seen = {}

    def fake_run(config, output, jobs):
        seen.update(config=config, output=output, jobs=jobs)
        return SimpleNamespace(table_text="THE TABLE", outputs={"results": tmp_path / "results.csv"})

    monkeypatch.setattr(workflow, "run_benchmark", fake_run)
    return seen


def test_options_fill_the_few_shot_configuration(captured, tmp_path, capsys):
    metatrain = tmp_path / "metatrain.yaml"
    metatrain.write_text("input: ignored.csv\nquery_size: 24\n")  # the data keys are the benchmark's own
    assert main(["-q", "benchmark", "fewshot", "-i", str(CHEMBL4203), "--test-assays", "CHEMBL4203_Ki",
                 "--val-assays", "A,B", "--support-sizes", "16,32", "--draws", "3", "--seeds", "4,5",
                 "--methods", "rf_ecfp,maml_pretrained", "--method-draws", "rf_ecfp=1", "--finetune-steps", "7",
                 "--metatrain-config", str(metatrain), "--smiles-column", "smiles", "--protocol", "balanced",
                 "-o", str(tmp_path / "out"), "-j", "1"]) == 0
    config = captured["config"]
    assert config.input == str(CHEMBL4203) and config.smiles_column == "smiles" and config.protocol == "balanced"
    assert config.test_assays == ["CHEMBL4203_Ki"] and config.val_assays == ["A", "B"]
    assert config.support_sizes == [16, 32] and config.draws == 3 and config.finetune_steps == 7
    assert config.seed == 4 and config.seeds == [4, 5]  # the first seed is the configuration's seed
    assert config.methods == ["rf_ecfp", "maml_pretrained"] and config.method_draws == {"rf_ecfp": 1}
    assert config.metatrain == {"query_size": 24}
    assert captured["output"] == str(tmp_path / "out") and captured["jobs"] == 1
    assert capsys.readouterr().out == f"THE TABLE\nresults: {tmp_path / 'results.csv'}\n"


def test_methods_all_leaves_out_molprior_only_when_there_is_no_model_for_it(captured, tmp_path, monkeypatch):
    from molprior.tracking import artifacts

    args = ["-q", "benchmark", "fewshot", "-i", str(CHEMBL4203), "--test-assays", "CHEMBL4203_Ki",
            "--methods", "all", "-o", str(tmp_path / "out")]
    few_shot = [m for m in ALL_METHODS if m not in DESCRIPTION_METHODS]  # the description methods are named
    assert main(args) == 0
    assert captured["config"].methods == few_shot  # this installation ships the few-shot model
    monkeypatch.setattr(artifacts, "SHIPPED_FEWSHOT", tmp_path / "not-shipped")
    assert main(args) == 0  # hyper_maml reads the shipped model's features
    assert captured["config"].methods == [m for m in few_shot if m not in ("molprior", "hyper_maml")]
    assert main([*args, "--model", str(tmp_path / "given")]) == 0
    assert captured["config"].methods == [m for m in few_shot if m != "hyper_maml"]
    assert captured["config"].model == str(tmp_path / "given")


def test_a_run_is_tracked_with_its_input_and_settings(tmp_path, capsys):
    out = tmp_path / "bench"
    assert main(["-q", "benchmark", "fewshot", "-i", str(CHEMBL4203), "--test-assays", "CHEMBL4203_Ki",
                 "--support-sizes", "16", "--draws", "1", "--methods", "knn_tanimoto", "--seeds", "3",
                 "-o", str(out), "-j", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == f"results: {out / 'results.csv'}"
    run = mlflow.search_runs(experiment_names=["molprior"]).iloc[0]
    assert run["tags.molprior.command"] == "benchmark-fewshot"
    assert run["params.input.sha256"] == file_hash(CHEMBL4203)
    assert run["params.methods"] == "knn_tanimoto" and run["params.seed"] == "3"


def test_a_meta_training_file_with_an_unknown_key_stops_before_the_benchmark(tmp_path, capsys):
    metatrain = tmp_path / "metatrain.yaml"
    metatrain.write_text("querry_size: 24\n")
    assert main(["benchmark", "fewshot", "-i", str(CHEMBL4203), "--test-assays", "CHEMBL4203_Ki",
                 "--metatrain-config", str(metatrain), "-o", str(tmp_path / "out")]) == 2
    assert "unknown MetaTrainConfig keys ['querry_size']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
