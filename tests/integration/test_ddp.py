"""Lightning's own DDP on CPU: ``python -m molprior pretrain --devices 2 --strategy ddp`` starts a
second process (Lightning re-runs the command), both train over gloo on half the batches each,
and only rank 0 creates the MLflow run and writes the exported model."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd

from molprior.serialization import load_generator

ROOT = Path(__file__).resolve().parents[2]
MOLECULES, BATCH, VAL_FRACTION = 300, 32, 0.05
TINY = f"""batch_size: {BATCH}
val_fraction: {VAL_FRACTION}
encoder: {{hidden_dim: 32, num_layers: 2}}
decoder: {{latent_dim: 16, hidden_dim: 64, embedding_dim: 16}}
optim: {{sample_size: 50, reconstruction_size: 30, kl_warmup_steps: 20}}
trainer: {{max_epochs: 1, checkpoint_every_n_steps: 0}}
"""
# What would make Lightning think it is already inside a distributed job (and not launch one).
LAUNCHER_VARIABLES = ("LOCAL_RANK", "RANK", "NODE_RANK", "GROUP_RANK", "WORLD_SIZE", "LOCAL_WORLD_SIZE",
                      "MASTER_ADDR", "MASTER_PORT", "PL_GLOBAL_SEED")


def _child_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in LAUNCHER_VARIABLES and not k.startswith(("SLURM_", "TORCHELASTIC_", "PMI_", "OMPI_"))}
    env.update(MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path / 'mlflow.db'}", MOLPRIOR_CACHE_DIR=str(tmp_path / "cache"),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def test_pretrain_under_ddp_with_two_cpu_processes(tmp_path):
    corpus = tmp_path / "corpus.csv"
    pd.read_csv(ROOT / "data" / "moses" / "moses_train_50k.csv.gz").head(MOLECULES).to_csv(corpus, index=False)
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY)
    out = tmp_path / "out"
    env = _child_environment(tmp_path)

    result = subprocess.run(
        [sys.executable, "-m", "molprior", "-q", "pretrain", "--config", str(config), "--corpus", str(corpus),
         "--output", str(out), "-j", "1", "--accelerator", "cpu", "--devices", "2", "--strategy", "ddp"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    assert result.stdout.count("final_sample_validity") == 1  # only rank 0 reports

    # exactly one MLflow run, of any name, in any experiment: the other rank started none
    client = mlflow.MlflowClient(tracking_uri=env["MLFLOW_TRACKING_URI"])
    experiments = [e.experiment_id for e in client.search_experiments()]
    runs = client.search_runs(experiments)
    assert [r.info.run_name for r in runs] == ["pretrain"]
    run = runs[0]
    assert run.data.params["trainer.world_size"] == "2"
    assert run.data.tags["molprior.process_group_backend"] == "gloo"

    # each process trained on half the training molecules (Lightning's DistributedSampler):
    # one epoch is ceil(ceil(n / 2) / batch) optimiser steps, not ceil(n / batch)
    n_train = int(run.data.metrics["corpus_molecules"]) - max(1, round(VAL_FRACTION * MOLECULES))
    steps_per_rank = math.ceil(math.ceil(n_train / 2) / BATCH)
    assert steps_per_rank < math.ceil(n_train / BATCH)
    history = client.get_metric_history(run.info.run_id, "train_loss")
    assert [m.step for m in history] == [steps_per_rank - 1]  # logged at global_step - 1

    # rank 0's files, whole; nothing half-written beside them
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints", "loss_curves.png", "mlflow_run.json", "model",
                                                     "rejected.csv", "settings.yaml", "training_history.json", "vocabulary.json"]
    assert not list(out.rglob("*.part"))
    model, vocabulary, metadata = load_generator(out / "model")
    assert metadata["mlflow_run_id"] == run.info.run_id and metadata["epochs_trained"] == 1
    assert len(vocabulary) > 10 and sum(p.numel() for p in model.parameters()) > 0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"model", "encoder", "loss_curves.png", "rejected.csv"} <= artifacts
