"""molprior.cli.benchmark_regression: ``molprior benchmark regression`` on real MoleculeACE targets
(their own train/test split), what it hands the workflow, what it prints, and its errors."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import mlflow
import numpy as np
import pandas as pd
import pytest

from molprior.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
MOLECULEACE = ROOT / "data" / "moleculeace"


@pytest.fixture
def two_targets(tmp_path) -> Path:
    """A MoleculeACE directory of two real targets (615 and 731 molecules)."""
    directory = tmp_path / "moleculeace"
    directory.mkdir()
    for name in ("CHEMBL2835_Ki", "CHEMBL4203_Ki"):
        shutil.copyfile(MOLECULEACE / f"{name}.csv", directory / f"{name}.csv")
    return directory


def test_the_fingerprint_methods_on_one_chosen_target(two_targets, tmp_path, capsys):
    """Without gnn_finetune nothing is meta-trained; --assays picks the target out of the directory."""
    out = tmp_path / "out"
    assert main(["-q", "benchmark", "regression", "-i", str(two_targets), "--assays", "CHEMBL2835_Ki",
                 "--methods", "svr_ecfp,rf_ecfp", "-o", str(out), "-j", "1"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["method", "assay", "rmse", "rmse_cliff"]
    assert results[["method", "assay"]].values.tolist() == [["svr_ecfp", "CHEMBL2835_Ki"], ["rf_ecfp", "CHEMBL2835_Ki"]]
    assert np.all((results[["rmse", "rmse_cliff"]] > 0) & (results[["rmse", "rmse_cliff"]] < 2))  # pKi units
    assert not (out / "metatrain").exists()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "mean over targets:" and lines[1].split() == ["method", "assays", "RMSE", "RMSE", "cliff"]
    shown = {line.split()[0]: line.split()[1:] for line in lines[2:4]}
    for row in results.itertuples():
        assert shown[row.method] == ["1", f"{row.rmse:.3f}", f"{row.rmse_cliff:.3f}"]
    assert lines[4] == f"results: {out / 'results.csv'}"
    run_id = lines[5].removeprefix("MLflow run: ")
    run = mlflow.get_run(run_id)
    assert run.data.tags["molprior.command"] == "benchmark-regression"
    assert run.data.params["methods"] == "svr_ecfp,rf_ecfp" and run.data.params["assays"] == "CHEMBL2835_Ki"
    assert run.data.metrics["rf_ecfp.rmse_mean"] == pytest.approx(results["rmse"].iloc[1])


def test_options_reach_the_workflow(monkeypatch, tmp_path, capsys):
    import molprior.workflows.regression as workflow

    seen = {}

    def fake_run(input, output, **options):  # records what the command asks for; fits nothing
        seen.update(input=input, output=output, **options)
        return SimpleNamespace(table_text="THE TABLE", outputs={"results": tmp_path / "results.csv"}, run_id="r1")

    monkeypatch.setattr(workflow, "run_regression_benchmark", fake_run)
    assert main(["-q", "benchmark", "regression", "-o", str(tmp_path / "out"), "--model", "runs:/abc/model",
                 "--methods", "gnn_finetune", "--assays=-2:", "--epochs", "3", "--metatrain-epochs", "2",
                 "--seed", "7", "-j", "1"]) == 0
    assert seen == {"input": "data/moleculeace", "output": str(tmp_path / "out"), "model": "runs:/abc/model",
                    "methods": ["gnn_finetune"], "assays": ["-2:"], "jobs": 1, "epochs": 3, "seed": 7,
                    "metatrain_epochs": 2}
    assert capsys.readouterr().out == (f"mean over targets:\nTHE TABLE\nresults: {tmp_path / 'results.csv'}\n"
                                       "MLflow run: r1\n")


def test_unknown_methods_and_targets_are_the_users_errors(two_targets, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["benchmark", "regression", "-i", str(two_targets), "--methods", "svm", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("molprior benchmark: error: unknown methods ['svm']; available: svr_ecfp, rf_ecfp")
    assert not out.exists()
    assert main(["benchmark", "regression", "-i", str(two_targets), "--assays", "CHEMBL1_Ki", "--methods", "rf_ecfp",
                 "-o", str(out), "-j", "1"]) == 2
    assert "CHEMBL1_Ki" in capsys.readouterr().err
    assert not (out / "results.csv").exists()


def test_a_missing_input_is_the_users_error(tmp_path, capsys):
    assert main(["benchmark", "regression", "-i", str(tmp_path / "nowhere"), "--methods", "rf_ecfp",
                 "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "nowhere" in err and "internal error" not in err
