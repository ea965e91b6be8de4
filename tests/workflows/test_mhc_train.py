"""``molprior peptides train`` on real measurements: the split into meta-training and
meta-validation alleles, the peptide prior and its cached embeddings, each allele's own head
(fine-tuned or adapted by the inner loop), and the tracked, registered and promoted model
(the tiny model of tests/conftest.py; what the predictor knows: tests/meta/test_mhc_predictor.py)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from molprior.config import MHCTrainConfig, load_yaml_config
from molprior.data.mhc import allele_tasks, load_measurements
from molprior.files import file_hash
from molprior.models.allele_model import PeptideFeatures
from molprior.serialization import load_predictor
from molprior.tracking import registry
from molprior.workflows.mhc_train import (
    PRIORS, allele_parameters, embed_peptides, fine_tune, load_peptide_encoder, peptide_prior_dir,
    run_train_and_register, split_alleles,
)

ROOT = Path(__file__).resolve().parents[2]
MHC = ROOT / "data" / "mhc" / "mhc_class1_human.csv.gz"
PEPTIDES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI", "SIINFEKL"]


@pytest.fixture(scope="module")
def measurements(tmp_path_factory):
    """Real measurements of four alleles: 40 of HLA-A*02:01, 20 of each of the others."""
    table = pd.read_csv(MHC)
    sizes = {"HLA-A*02:01": 40, "HLA-A*03:01": 20, "HLA-B*07:02": 20, "HLA-A*26:02": 20}
    path = tmp_path_factory.mktemp("mhc") / "mhc.csv"
    frames = [table[table["allele"] == a].sample(n, random_state=0) for a, n in sizes.items()]
    pd.concat(frames).to_csv(path, index=False)
    return load_measurements(path)


def test_alleles_are_split_into_meta_training_and_meta_validation(measurements):
    config = MHCTrainConfig(val_alleles=["HLA-A*26:02", "HLA-A*02:02", "HLA-B*07:02"], held_out=["HLA-B*07:02"])
    train, val = split_alleles(measurements, config)
    assert val == ["HLA-A*26:02"]  # HLA-A*02:02 has no measurements here; a held-out allele is in neither
    assert train == ["HLA-A*02:01", "HLA-A*03:01"]
    with pytest.raises(ValueError, match="none of the meta-validation alleles"):
        split_alleles(measurements, MHCTrainConfig(val_alleles=["HLA-A*02:02"]))
    with pytest.raises(ValueError, match="no meta-training alleles left"):
        split_alleles(measurements, MHCTrainConfig(val_alleles=["HLA-A*26:02"],
                                                   held_out=["HLA-A*02:01", "HLA-A*03:01", "HLA-B*07:02"]))


def test_the_peptide_prior_is_found_by_name_or_directory(tmp_path):
    assert peptide_prior_dir("peptide") == PRIORS / "peptide" / "encoder"
    assert peptide_prior_dir("shipped") == peptide_prior_dir("default") == PRIORS / "default" / "encoder"
    assert peptide_prior_dir(str(PRIORS / "peptide")) == PRIORS / "peptide" / "encoder"
    with pytest.raises(FileNotFoundError, match="holds no encoder.json"):
        peptide_prior_dir(str(tmp_path))
    encoder, origin = load_peptide_encoder("default", (8, 11))
    assert encoder.lengths == (8, 11) and not encoder.training
    assert origin["prior"] == "default" and origin["path"] == str(PRIORS / "default" / "encoder")
    assert origin["sha256"] == file_hash(PRIORS / "default" / "encoder" / "encoder.safetensors")


def test_embeddings_are_cached_by_encoder_and_peptide_list(tmp_path, monkeypatch):
    encoder, origin = load_peptide_encoder("default", (8, 15))
    direct = encoder.embed(PEPTIDES)
    embedded = embed_peptides(encoder, PEPTIDES, origin["sha256"], tmp_path)
    torch.testing.assert_close(embedded, direct)
    assert len(list(tmp_path.glob("*.npy"))) == 1

    def no_embedding(peptides, *args, **kwargs):
        raise AssertionError("embedded again")

    monkeypatch.setattr(encoder, "embed", no_embedding)
    assert torch.equal(embed_peptides(encoder, PEPTIDES, origin["sha256"], tmp_path), embedded)  # from the cache
    monkeypatch.undo()
    reordered = embed_peptides(encoder, PEPTIDES[::-1], origin["sha256"], tmp_path)  # another list: its own file
    torch.testing.assert_close(reordered, direct.flip(0))
    other_weights = embed_peptides(encoder, PEPTIDES, "0" * 64, tmp_path)
    torch.testing.assert_close(other_weights, direct)
    assert len(list(tmp_path.glob("*.npy"))) == 3


def test_alleles_with_many_measurements_are_fine_tuned_and_the_others_adapted(mhc_model, measurements):
    learner = load_predictor(mhc_model[0]).learner
    encoder, _ = load_peptide_encoder("default", (8, 15))
    peptides = sorted(set(measurements.table["peptide"]))
    features = encoder.embed(peptides)
    tasks = allele_tasks(measurements.table, {p: i for i, p in enumerate(peptides)}, ["HLA-A*02:01", "HLA-A*03:01"])
    config = MHCTrainConfig(finetune_min=30, finetune_epochs=2, finetune_rank=2, adapt_steps=3)
    torch.manual_seed(0)  # the body's dropout while fine-tuning
    own = allele_parameters(learner, features, tasks, config)
    assert sorted(own.heads) == ["HLA-A*02:01", "HLA-A*03:01"] and list(own.bodies) == ["HLA-A*02:01"]
    many, few = tasks
    assert own.info == {
        "HLA-A*02:01": {"measurements": 40, "binders": int(np.nansum(many.labels)),
                        "head": "head and rank-2 body adapter fine-tuned on all 40 measurements (2 epochs)"},
        "HLA-A*03:01": {"measurements": 20, "binders": int(np.nansum(few.labels)),
                        "head": "inner loop (3 steps) on all 20 measurements"}}
    rows = torch.from_numpy(many.rows)
    torch.manual_seed(0)
    tuned = fine_tune(learner, features[rows], torch.from_numpy(many.values), torch.from_numpy(many.relations), config)
    for name, value in tuned.head.items():
        torch.testing.assert_close(own.heads["HLA-A*02:01"][name], value)
    for name, value in tuned.body.items():
        torch.testing.assert_close(own.bodies["HLA-A*02:01"][name], value)
    rows = torch.from_numpy(few.rows)
    adapted = learner.adapt(PeptideFeatures(features[rows]), torch.from_numpy(few.values),
                            torch.from_numpy(few.relations), steps=3).head()
    for name, value in adapted.items():
        torch.testing.assert_close(own.heads["HLA-A*03:01"][name], value)
    start = learner.model.head.state_dict()
    assert not all(torch.equal(start[name], value) for name, value in adapted.items())  # it did adapt


@pytest.fixture
def store(mhc_model, monkeypatch):
    """The MLflow store the tiny model was trained and registered in."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mhc_model[1])
    mlflow.set_tracking_uri(mhc_model[1])
    yield mhc_model[1]
    mlflow.set_tracking_uri(None)


def test_the_trained_model_is_saved_tracked_registered_and_promoted(mhc_model, store):
    out = mhc_model[0].parent
    predictor = load_predictor(mhc_model[0])
    meta = predictor.metadata
    # its settings file runs it again: the same configuration
    assert json.loads(json.dumps(asdict(load_yaml_config(MHCTrainConfig, out / "settings.yaml")))) == meta["config"]
    history = json.loads((out / "history.json").read_text())
    assert history[0]["epoch"] == -1 and max(h["val_roc_auc"] for h in history) == pytest.approx(
        meta["metrics"]["best_val_roc_auc"])  # the best validation, the untrained start included
    rejected = pd.read_csv(out / "rejected.csv")
    assert list(rejected.columns) == list(load_measurements(meta["data"]).rejected.columns)

    train = mlflow.get_run(meta["mlflow_run_id"])
    assert train.data.tags["molprior.command"] == "mhc-train" and train.info.status == "FINISHED"
    assert train.data.tags["molprior.algorithm"] == "anil"
    assert train.data.tags["molprior.prior"] == meta["encoder"]["path"]
    pipeline = mlflow.get_run(train.data.tags["mlflow.parentRunId"])
    assert pipeline.data.tags["molprior.command"] == "mhc-pipeline"
    assert pipeline.data.params == {"register_as": "molprior-mhc-i", "alias": "champion"}
    kept = load_measurements(meta["data"]).table
    kept = kept[kept["allele"] != "HLA-B*35:01"]
    assert train.data.metrics["alleles"] == 5 and train.data.metrics["measurements"] == len(kept)
    assert train.data.metrics["best_val_roc_auc"] == pytest.approx(meta["metrics"]["best_val_roc_auc"])
    assert json.loads(train.data.params["held_out"]) == ["HLA-B*35:01"]
    assert train.data.params["mhc_data.sha256"] == file_hash(meta["data"])
    artifacts = {a.path for a in mlflow.artifacts.list_artifacts(run_id=train.info.run_id)}
    assert {"model", "history.json", "rejected.csv", "settings.yaml"} <= artifacts

    champion = registry.get_version("molprior-mhc-i@champion")
    assert champion.tags["molprior.train_run_id"] == train.info.run_id
    assert champion.tags["molprior.promoted.champion.reason"] == "first holder"


def _tiny_config(path: Path) -> MHCTrainConfig:
    """Two short epochs over 40 real measurements each of three alleles."""
    table = pd.read_csv(MHC)
    alleles = ["HLA-A*02:01", "HLA-A*03:01", "HLA-A*02:02"]
    pd.concat([table[table["allele"] == a].sample(40, random_state=1) for a in alleles]).to_csv(path, index=False)
    return MHCTrainConfig(data=str(path), prior="default", held_out=[], val_alleles=["HLA-A*02:02"],
                          support_sizes=[16], query_size=16, val_support_size=16, val_draws=1, steps_per_epoch=2,
                          tasks_per_step=2, finetune_min=1000, adapt_steps=2, reference_per_length=20,
                          trainer={"max_epochs": 1})


def test_a_model_that_does_not_beat_the_champion_is_registered_but_not_promoted(mhc_model, tmp_path, monkeypatch):
    shutil.copyfile(Path(mhc_model[1].removeprefix("sqlite:///")), tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        champion = registry.get_version("molprior-mhc-i@champion")
        newest = max(int(v.version) for v in registry.client().search_model_versions("name='molprior-mhc-i'"))
        registry.client().set_model_version_tag("molprior-mhc-i", champion.version, "molprior.metric.val_roc_auc",
                                                "1.0")  # a champion nothing beats
        outcome, version, promotion = run_train_and_register(_tiny_config(tmp_path / "mhc.csv"), tmp_path / "out",
                                                             progress=False)
        assert (outcome.model_dir / "alleles.safetensors").exists()
        assert int(version.version) == newest + 1  # registered...
        assert registry.get_version("molprior-mhc-i@champion").version == champion.version  # ...not promoted
        assert not promotion.changed and "not promoted" in promotion.message
    finally:
        mlflow.set_tracking_uri(None)
