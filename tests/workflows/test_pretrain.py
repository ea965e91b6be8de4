"""Tiny real pretraining runs (a few hundred MOSES molecules): the loss falls, samples parse,
checkpoints resume, an interrupted run resumes, and the exported encoder reloads exactly."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from molprior.config import PretrainConfig
from molprior.models.generative import sample_smiles
from molprior.tracking import runs
from molprior.serialization import load_encoder, load_generator
from molprior.training.pretrain_module import PretrainModule
from molprior.workflows.pretrain import run_pretraining

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"hidden_dim": 32, "num_layers": 2}
SMALL_DECODER = {"latent_dim": 16, "hidden_dim": 64, "embedding_dim": 16}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "corpus.csv"
    pd.read_csv(ROOT / "data" / "moses" / "moses_train_50k.csv.gz").head(300).to_csv(path, index=False)
    return path


def _config(corpus: Path, epochs: int) -> PretrainConfig:
    return PretrainConfig(corpus=str(corpus), batch_size=32, encoder=SMALL, decoder=SMALL_DECODER,
                          optim={"sample_size": 50, "reconstruction_size": 30, "kl_warmup_steps": 20,
                                 "learning_rate": 3e-3},
                          trainer={"max_epochs": epochs, "checkpoint_every_n_steps": 4, "patience": 10})


def test_pretraining_learns_exports_and_logs(corpus, tmp_path):
    torch.manual_seed(0)
    outcome = run_pretraining(_config(corpus, 3), tmp_path / "run", progress=False, cache_dir=tmp_path / "cache")
    run = mlflow.get_run(outcome.run_id)
    history = mlflow.MlflowClient().get_metric_history(outcome.run_id, "train_reconstruction")
    assert len(history) == 3
    assert history[-1].value < history[0].value  # the loss falls
    for key in ("val_loss", "train_mol_per_s", "sample_validity", "reconstruction_accuracy",
                "final_sample_uniqueness", "final_sample_novelty", "final_sample_internal_diversity"):
        assert key in run.data.metrics, key
    assert (tmp_path / "run" / "loss_curves.png").stat().st_size > 1000
    assert (tmp_path / "run" / "checkpoints" / "last.ckpt").exists()
    artifacts = {a.path for a in mlflow.artifacts.list_artifacts(run_id=outcome.run_id)}
    assert {"model", "encoder", "loss_curves.png", "rejected.csv"} <= artifacts

    model, vocabulary, metadata = load_generator(outcome.model_dir)
    assert metadata["mlflow_run_id"] == outcome.run_id and metadata["corpus_molecules"] == 300
    samples = sample_smiles(model, vocabulary, 40, seed=0)
    parsed = [s for s in samples if s and Chem.MolFromSmiles(s) is not None]
    assert len(parsed) == len([s for s in samples if s])  # every non-empty sample is a molecule
    assert len(parsed) >= 30

    # the encoder alone, from the run's artifacts, gives the generator's embeddings exactly
    encoder, _ = load_encoder(mlflow.artifacts.download_artifacts(f"runs:/{outcome.run_id}/encoder",
                                                                  dst_path=str(tmp_path / "dl")))
    from molprior.chem.featurize import featurize_smiles

    batch = Batch.from_data_list(featurize_smiles(["CC(=O)Oc1ccccc1C(=O)O", "c1ccc2[nH]ccc2c1"]).graphs.to_data_list())
    with torch.no_grad():
        assert torch.equal(encoder.embed(batch), model.encoder.embed(batch))

    # the encoder is also an MLflow logged model: registered, it loads from a registry URI
    version = mlflow.register_model(f"models:/{outcome.model_ids['encoder']}", "unit-test-encoder")
    from molprior.tracking.artifacts import resolve_model_dir

    registered, _ = load_encoder(resolve_model_dir(f"models:/unit-test-encoder/{version.version}", kind="encoder"))
    with torch.no_grad():
        assert torch.equal(registered.embed(batch), model.encoder.embed(batch))
    generator_dir = resolve_model_dir(f"models:/{outcome.model_ids['generator']}")
    assert (generator_dir / "generator.safetensors").exists()


def test_resume_continues_the_same_run(corpus, tmp_path):
    out = tmp_path / "run"
    first = run_pretraining(_config(corpus, 1), out, progress=False, cache_dir=tmp_path / "cache")
    second = run_pretraining(_config(corpus, 2), out, resume=True, progress=False, cache_dir=tmp_path / "cache")
    assert second.run_id == first.run_id
    epochs = mlflow.MlflowClient().get_metric_history(first.run_id, "train_loss")
    assert [m.step for m in epochs] == sorted(m.step for m in epochs) and len(epochs) == 2


def test_interrupted_run_resumes_from_its_checkpoint(corpus, tmp_path, monkeypatch):
    out = tmp_path / "run"
    calls = {"n": 0}
    original = PretrainModule.training_step

    def interrupt_after_five(self, batch, batch_idx):
        calls["n"] += 1
        if calls["n"] == 6:
            raise KeyboardInterrupt  # as Ctrl-C would
        return original(self, batch, batch_idx)

    monkeypatch.setattr(PretrainModule, "training_step", interrupt_after_five)
    with pytest.raises(SystemExit):  # Lightning shuts down gracefully and exits 1
        run_pretraining(_config(corpus, 2), out, progress=False, cache_dir=tmp_path / "cache")
    checkpoint = torch.load(out / "checkpoints" / "interrupted.ckpt", weights_only=False, map_location="cpu")
    assert checkpoint["global_step"] == 5
    monkeypatch.setattr(PretrainModule, "training_step", original)
    resumed = run_pretraining(_config(corpus, 2), out, resume=True, progress=False, cache_dir=tmp_path / "cache")
    assert json.loads((out / "mlflow_run.json").read_text())["run_id"] == resumed.run_id
    assert (out / "model" / "generator.safetensors").exists()


def test_a_fresh_run_ignores_an_old_interrupted_checkpoint(corpus, tmp_path):
    out = tmp_path / "run"
    first = run_pretraining(_config(corpus, 1), out, progress=False, cache_dir=tmp_path / "cache")
    (out / "checkpoints" / "last.ckpt").rename(out / "checkpoints" / "interrupted.ckpt")
    fresh = run_pretraining(_config(corpus, 1), out, progress=False, cache_dir=tmp_path / "cache")
    assert fresh.run_id != first.run_id
    assert not (out / "checkpoints" / "interrupted.ckpt").exists()
    steps = mlflow.MlflowClient().get_metric_history(fresh.run_id, "train_loss")
    assert [m.step for m in steps] == [8]  # one epoch of 9 batches, counted from zero again


KILLED_AT_STEP = """
import dataclasses, json, os, signal, sys
from molprior.config import PretrainConfig
from molprior.training.pretrain_module import PretrainModule
from molprior.workflows.pretrain import run_pretraining

config, out, cache, step = json.loads(sys.argv[1])
original = PretrainModule.training_step

def training_step(self, batch, batch_idx):
    if self.global_step == step:
        os.kill(os.getpid(), signal.SIGKILL)  # as kill -9 would: no clean-up at all
    return original(self, batch, batch_idx)

PretrainModule.training_step = training_step
run_pretraining(PretrainConfig(**config), out, progress=False, cache_dir=cache)
"""


def test_a_killed_run_is_marked_and_resumes_in_the_same_run_from_its_best_checkpoint(corpus, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the new store's artifacts go to ./mlartifacts
    out, cache = tmp_path / "run", tmp_path / "cache"
    config = _config(corpus, 2)
    arguments = json.dumps([dataclasses.asdict(config), str(out), str(cache), 11])  # killed in the second epoch
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_STEP, arguments], capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    run_id = json.loads((out / "mlflow_run.json").read_text())["run_id"]
    assert mlflow.get_run(run_id).info.status == "RUNNING"  # as the kill left it
    assert torch.load(out / "checkpoints" / "last.ckpt", weights_only=False)["epoch"] == 0  # the first epoch's end
    for name in ("last.ckpt", "step.ckpt"):  # only the best checkpoint is left
        (out / "checkpoints" / name).unlink()

    resumed = run_pretraining(config, out, resume=True, progress=False, cache_dir=cache)
    assert resumed.run_id == run_id
    run = mlflow.get_run(run_id)
    assert run.info.status == "FINISHED" and runs.ABANDONED_TAG not in run.data.tags
    assert run.data.tags[runs.PID_TAG] == str(os.getpid())
    losses = mlflow.MlflowClient().get_metric_history(run_id, "train_loss")
    assert [m.step for m in losses] == [8, 17]  # epoch 0 before the kill, 1 after it
    history = json.loads((out / "training_history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]
    assert (out / "loss_curves.png").stat().st_size > 1000
    artifacts = {a.path for a in mlflow.artifacts.list_artifacts(run_id=run_id)}
    assert {"model", "encoder", "training_history.json", "loss_curves.png"} <= artifacts
