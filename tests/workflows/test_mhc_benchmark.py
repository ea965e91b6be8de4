"""The MHC benchmark workflow end to end on a small slice of the real data: every method,
support size and draw gets a row, cross-validation compares the fine-tuned allele model with
the forest fold by fold, the throughput is measured, and the tracked run holds the tables."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molprior.workflows.mhc_benchmark import METHODS, MHCBenchmarkConfig, cold_and_steady, run_mhc_benchmark

DATA = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"
TRAIN = ["HLA-A*02:01", "HLA-A*03:01", "HLA-B*07:02", "HLA-A*02:02"]
HELD = ["HLA-B*35:01", "HLA-C*06:02"]


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    base = tmp_path_factory.mktemp("benchmark-mhc")
    table = pd.read_csv(DATA)
    sizes = {"HLA-B*35:01": 320, "HLA-C*06:02": 150}
    parts = [table[table["allele"] == a].sample(sizes.get(a, 220), random_state=1) for a in TRAIN + HELD]
    pd.concat(parts).to_csv(base / "mhc.csv", index=False)
    config = MHCBenchmarkConfig(
        data=str(base / "mhc.csv"), held_out=HELD, support_sizes=[16, 64], draws=2, cv_folds=2,
        cv_min_measurements=300, speed_peptides=300, speed_alleles=2,
        train={"prior": "default", "val_alleles": ["HLA-A*02:02"], "steps_per_epoch": 4, "tasks_per_step": 3,
               "val_draws": 2, "finetune_min": 200, "finetune_epochs": 2, "trainer": {"max_epochs": 1}})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        mp.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
        summary, metrics = run_mhc_benchmark(config, base / "out", jobs=1, progress=False)
        import mlflow

        mlflow.set_tracking_uri(None)
    return base, config, summary, metrics


def test_every_method_support_size_and_draw_is_scored(benchmark):
    base, config, summary, _ = benchmark
    draws = pd.read_csv(base / "out" / "mhc_few_shot_draws.csv")
    # C*06:02 has 150 measurements: both support sizes fit (k + 20 query rows)
    assert len(draws) == len(HELD) * 2 * config.draws * len(METHODS)
    assert set(draws["method"]) == set(METHODS) and set(draws["support_size"]) == {16, 64}
    assert draws["roc_auc"].between(0, 1).all()
    nearest = draws[draws["method"] == "nearest_allele"]["nearest"]
    assert set(nearest) <= {"HLA-A*02:01", "HLA-A*03:01", "HLA-B*07:02"}  # the fine-tuned training alleles
    assert len(summary) == len(METHODS) * 2


def test_cross_validation_on_the_well_measured_held_out_allele(benchmark):
    base, config, _, metrics = benchmark
    cv = pd.read_csv(base / "out" / "mhc_cross_validation.csv")
    assert set(cv["allele"]) == {"HLA-B*35:01"}  # C*06:02 has fewer than cv_min_measurements
    assert sorted(cv["method"].unique()) == ["molprior", "rf_blosum62"]
    assert sorted(cv["fold"].unique()) == [0, 1]
    for method in ("molprior", "rf_blosum62"):
        assert np.isclose(metrics[f"cv.{method}.roc_auc"], cv[cv["method"] == method]["roc_auc"].mean())
    assert metrics["cv.molprior.roc_auc"] > 0.6  # the fine-tuned head and adapter learned the allele


def test_cold_start_is_the_first_peptides_against_the_rest_of_the_run():
    progress = [(5000, 1.0), (10000, 1.5), (15000, 2.0), (20000, 2.5), (25000, 3.0), (30000, 3.5)]
    rates = cold_and_steady(progress, cold=10000)
    assert rates == {"peptides_per_s_cold": 10000 / 1.5, "peptides_per_s_steady": 20000 / 2.0,
                     "ratio_cold_vs_steady": (10000 / 1.5) / (20000 / 2.0)}
    assert cold_and_steady(progress, cold=30000) == {} and cold_and_steady(progress[:1], cold=100) == {}


def test_throughput_and_tracked_run(benchmark):
    base, _, _, metrics = benchmark
    assert metrics["speed_peptides"] == 300 and metrics["speed_alleles"] == 2
    assert metrics["peptides_per_s_genotype"] > 0 and metrics["ratio_genotype_vs_one_allele"] > 0
    assert metrics["finetune.seconds"] > 0 and metrics["metatrain.steps_trained"] == 4
    written = json.loads((base / "out" / "mhc_benchmark.json").read_text())
    assert written.keys() == metrics.keys()
    import mlflow

    from molprior.tracking.runs import DEFAULT_EXPERIMENT

    client = mlflow.MlflowClient(f"sqlite:///{base / 'mlflow.db'}")
    runs = client.search_runs([client.get_experiment_by_name(DEFAULT_EXPERIMENT).experiment_id])
    run = next(r for r in runs if r.info.run_name == "benchmark-mhc")
    assert "cv.molprior.roc_auc" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"mhc_few_shot.csv", "mhc_cross_validation.csv", "mhc_benchmark.json", "settings.yaml"} <= artifacts
    from molprior.config import load_yaml_config

    assert load_yaml_config(MHCBenchmarkConfig, base / "out" / "settings.yaml") == benchmark[1]
