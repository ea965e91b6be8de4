"""The full-data regression benchmark on MoleculeACE: outputs, scores, tracking, leak-freedom."""

import argparse
import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from molprior.cli.benchmark_regression import add_regression_parser
from molprior.errors import InputError
from molprior.evaluation.regression import RESULT_COLUMNS
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel
from molprior.serialization import save_learner
from molprior.workflows.regression import (
    METHODS, FinetuneConfig, build_targets, evaluate_target, load_model, metatraining_rows, read_benchmark,
    run_regression_benchmark,
)

# two small targets (615 and 976 molecules) that share 188 molecules across their splits;
# CHEMBL2971_Ki is one of the project's meta-validation assays
ASSAYS = ["CHEMBL2835_Ki", "CHEMBL2971_Ki"]
TINY_METATRAINING = {"prior": "random", "encoder": {"hidden_dim": 16, "num_layers": 1},
                     "head": {"fingerprint_dim": 2048, "hidden_dim": 16}, "steps_per_epoch": 2, "tasks_per_step": 2,
                     "val_draws": 1, "trainer": {"log_every_n_steps": 1}}


@pytest.fixture(scope="module")
def table(moleculeace_dir):
    return read_benchmark(moleculeace_dir, ASSAYS)[0]


def test_benchmark_writes_results_and_logs_one_run(moleculeace_dir, tmp_path):
    outcome = run_regression_benchmark(moleculeace_dir, tmp_path / "out", assays=ASSAYS, epochs=1,
                                       metatrain_epochs=1, metatrain=TINY_METATRAINING)
    results = pd.read_csv(tmp_path / "out" / "results.csv")
    assert tuple(results.columns) == RESULT_COLUMNS
    assert len(results) == len(METHODS) * len(ASSAYS)
    assert set(results["method"]) == set(METHODS) and set(results["assay"]) == set(ASSAYS)
    assert np.isfinite(results[["rmse", "rmse_cliff"]].to_numpy()).all()

    # the scores are those of the predictions, on MoleculeACE's test molecules and their cliff subset
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    raw = pd.read_csv(moleculeace_dir / "CHEMBL2835_Ki.csv")
    raw_test = raw[raw["split"] == "test"]
    svr = predictions[(predictions["method"] == "svr_ecfp") & (predictions["assay"] == "CHEMBL2835_Ki")]
    assert len(svr) == len(raw_test) and svr["cliff_mol"].sum() == raw_test["cliff_mol"].sum()
    np.testing.assert_allclose(np.sort(svr["y"] - 9), np.sort(raw_test["y"]))
    cliff = svr[svr["cliff_mol"] == 1]
    row = results[(results["method"] == "svr_ecfp") & (results["assay"] == "CHEMBL2835_Ki")].iloc[0]
    assert row["rmse_cliff"] == pytest.approx(np.sqrt(np.mean((cliff["y"] - cliff["predicted"]) ** 2)))
    assert row["rmse"] == pytest.approx(np.sqrt(np.mean((svr["y"] - svr["predicted"]) ** 2)))
    assert row["rmse"] < 0.8 * raw_test["y"].std(ddof=0)

    # one run, with the meta-training of the initialisation nested in it
    run = mlflow.get_run(outcome.run_id)
    means = outcome.summary.set_index("method")
    assert run.data.metrics["svr_ecfp.rmse_mean"] == pytest.approx(means.loc["svr_ecfp", "rmse"])
    assert run.data.metrics["gnn_finetune.rmse_cliff_mean"] == pytest.approx(means.loc["gnn_finetune", "rmse_cliff"])
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(outcome.run_id, "regression")}
    assert "regression/results.csv" in artifacts
    children = mlflow.search_runs(filter_string=f"tags.mlflow.parentRunId = '{outcome.run_id}'",
                                  search_all_experiments=True)
    assert list(children["tags.mlflow.runName"]) == ["metatrain-regression-init"]
    metadata = json.loads((tmp_path / "out" / "metatrain" / "model" / "model.json").read_text())["metadata"]
    assert metadata["val_assays"] == ["CHEMBL2971_Ki"] and metadata["train_assays"] == ["CHEMBL2835_Ki"]
    assert metadata["config"]["learner"]["task_type"] == "regression"


def test_meta_training_never_reads_a_test_molecule(table):
    rows = metatraining_rows(table, ASSAYS)
    test = set(table.loc[table["split"] == "test", "smiles"])
    assert (rows["split"] == "train").all() and not rows["smiles"].isin(test).any()
    shared = table[(table["split"] == "train") & table["smiles"].isin(test)]
    assert len(shared) > 0 and len(rows) == (table["split"] == "train").sum() - len(shared)


def test_a_given_model_is_fine_tuned(table, tmp_path):
    torch.manual_seed(0)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1)),
                      HeadConfig(hidden_dim=16, fingerprint_dim=2048))
    save_learner(FewShotLearner(model, LearnerConfig(task_type="regression")), tmp_path / "model")
    loaded, _ = load_model(tmp_path / "model")
    (target,), (graphs,), _, _ = build_targets(table, ASSAYS[:1], graphs=True)
    rows, predictions, timings = evaluate_target(target, graphs, ["gnn_finetune"], loaded, FinetuneConfig(epochs=3),
                                                 seed=0)
    test = target.split == "test"
    assert len(predictions) == test.sum() == timings[0]["n_test"]
    spread = target.values[test].std()
    assert np.isfinite(predictions["predicted"]).all() and rows[0]["rmse"] < 1.5 * spread
    assert torch.equal(loaded.head.net[0].weight, model.head.net[0].weight)  # fine-tuning changed a copy


def test_a_file_without_cliff_flags_is_refused(moleculeace_dir, tmp_path):
    raw = pd.read_csv(moleculeace_dir / "CHEMBL2835_Ki.csv").drop(columns="cliff_mol")
    raw.to_csv(tmp_path / "CHEMBL2835_Ki.csv", index=False)
    with pytest.raises(InputError, match="cliff_mol"):
        read_benchmark(tmp_path / "CHEMBL2835_Ki.csv")


def test_unknown_methods_and_assays_are_refused(moleculeace_dir, tmp_path):
    with pytest.raises(ValueError, match="unknown methods"):
        run_regression_benchmark(moleculeace_dir, tmp_path, methods=["svm"])
    with pytest.raises(ValueError, match="CHEMBL1_Ki"):
        read_benchmark(moleculeace_dir, ["CHEMBL1_Ki"])


def test_regression_parser():
    parser = argparse.ArgumentParser()
    add_regression_parser(parser.add_subparsers(dest="protocol"))
    args = parser.parse_args(["regression", "-o", "out", "--methods", "svr_ecfp,rf_ecfp", "--epochs", "5", "-j", "2"])
    assert args.input == "data/moleculeace" and args.output == "out" and args.model is None
    assert args.methods == ["svr_ecfp", "rf_ecfp"] and args.epochs == 5 and args.jobs == 2
    assert args.handler.__name__ == "run_regression"
    with pytest.raises(SystemExit):
        parser.parse_args(["regression"])  # --output is required
