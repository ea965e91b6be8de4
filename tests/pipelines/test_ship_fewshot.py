"""pipelines/ship_fewshot.py writes the model card from measured benchmark files, never typed figures."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("ship_fewshot", ROOT / "pipelines" / "ship_fewshot.py")
ship = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ship)


def _results(path: Path, rows: list[tuple[str, int, float]]) -> Path:
    path.mkdir(parents=True)
    pd.DataFrame([{"method": m, "support_size": k, "metric": "delta_auprc", "mean": v, "std": 0.1, "n_tasks": 157,
                   "n_draws": 1570} for m, k, v in rows]).to_csv(path / "results.csv", index=False)
    return path


def test_the_card_carries_the_measured_tables_and_the_runs_facts(tmp_path):
    description = json.loads((ROOT / "molprior" / "priors" / "fewshot" / "model.json").read_text())
    test = _results(tmp_path / "test", [("rf_ecfp", 16, 0.1234), ("molprior", 16, 0.1876), ("molprior", 32, 0.2101)])
    valid = tmp_path / "valid"
    valid.mkdir()
    pd.DataFrame([{"method": "molprior", "support_size": 16, "n_tasks": 39, "ece": 0.0987,
                   "delta_auprc_confident": 0.2468, "delta_auprc_uncertain": 0.1357}]).to_csv(
        valid / "calibration.csv", index=False)
    guard = pd.DataFrame({"assay": ["A", "B", "C"], "molecules": [10, 10, 10], "shared": [5, 1, 9],
                          "shared_fraction": [0.5, 0.1, 0.9], "action": ["left out", "shared molecules dropped",
                                                                          "left out"], "role": "train"})
    card = ship.model_card(description, test, valid, None, 12.5, guard, 1234, ["a note"])
    assert "| rf_ecfp | 0.123 ± 0.100 |  | 157 |" in card
    assert "| molprior | 0.188 ± 0.100 | 0.210 ± 0.100 | 157 |" in card
    assert "| 16 | 39 | 0.099 | 0.247 | 0.136 |" in card
    assert "2 training tasks with more than 20% of their molecules there were left out, and 1 such molecules" in card
    assert "12.5 min on 2 CPU cores" in card and "1,234 molecules" in card and "- a note" in card
    assert "## MoleculeACE" not in card  # only with its results


def test_the_card_says_where_meta_training_started_and_how_to_retrain_it():
    assert "generative prior's encoder" in ship.start_text({"prior": "shipped prior"})
    lineage = {"mlflow_run_id": "abc", "prior": "shipped prior", "objective": "multitask", "steps_trained": 5389,
               "best_val_delta_auprc": 0.17512}
    text = ship.start_text({"prior": "few-shot model at out/fsmol-multitask", "prior_lineage": lineage})
    assert text.startswith("Started from the few-shot model at out/fsmol-multitask: a model trained with the "
                           "multitask objective (5,389 steps from the shipped prior, valid ΔAUPRC@16 0.175; "
                           "MLflow run abc)")
    assert ship.start_text({"prior": "random initialisation"}).startswith("Started from random initialisation;")
