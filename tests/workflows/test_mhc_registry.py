"""Registering the tiny MHC class I model as a version of a registered model: the lineage tags
read from its metadata (code, prior, data, alleles, metrics), the algorithm named from its
inner loop, and the registered version loading back as the same predictor."""

from __future__ import annotations

import copy
import dataclasses

import mlflow
import numpy as np
import pytest

from molprior import __version__
from molprior.files import file_hash
from molprior.serialization import load_predictor
from molprior.tracking import runs
from molprior.tracking.lineage import git_commit
from molprior.workflows.mhc_registry import algorithm_name, mhc_lineage_tags, register_mhc

EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL"]


@pytest.fixture(scope="module")
def predictor(mhc_model):
    return load_predictor(mhc_model[0])


def _with_metadata(predictor, **changes):
    """The predictor with its metadata changed (the shared one untouched)."""
    return dataclasses.replace(predictor, metadata={**copy.deepcopy(predictor.metadata), **changes})


def test_the_lineage_tags_are_read_from_the_models_metadata(predictor):
    meta = predictor.metadata
    tags = mhc_lineage_tags(predictor)
    metrics = meta["metrics"]
    assert tags == {
        "molprior.version": __version__, "molprior.git_commit": git_commit(), "molprior.task_type": "mhc-affinity",
        "molprior.train_run_id": meta["mlflow_run_id"], "molprior.prior": meta["encoder"]["path"],
        "molprior.prior_sha256": file_hash(meta["encoder"]["path"] + "/encoder.safetensors"),
        "molprior.data_sha256.mhc": file_hash(meta["data"]),
        "molprior.train_alleles": "HLA-A*02:01,HLA-A*03:01,HLA-B*07:02",
        "molprior.val_alleles": "HLA-A*02:02,HLA-A*26:02", "molprior.held_out_alleles": "HLA-B*35:01",
        "molprior.alleles": "HLA-A*02:01,HLA-A*02:02,HLA-A*03:01,HLA-A*26:02,HLA-B*07:02",
        "molprior.algorithm": "anil", "molprior.benchmark_metric": "val_roc_auc",
        **{f"molprior.metric.{k}": f"{float(v):.6g}" for k, v in metrics.items()},
        "molprior.metric.val_roc_auc": f"{metrics['best_val_roc_auc']:.6g}",  # what promotions compare
    }
    assert set(metrics) == {"best_val_roc_auc", "initial_val_roc_auc", "epochs_trained", "steps_trained"}
    assert tags["molprior.metric.steps_trained"] == "10"


def test_extra_tags_are_added_and_empty_ones_left_out(predictor):
    sparse = _with_metadata(predictor, mlflow_run_id="", held_out=[], metrics={"best_val_roc_auc": 0.712345678,
                                                                             "note": "not a number"})
    tags = mhc_lineage_tags(sparse, {"molprior.adapted_allele": "HLA-B*35:01", "molprior.adapted_measurements": 64,
                                     "molprior.benchmark_metric": "val_roc_auc_500nM"})
    assert "molprior.train_run_id" not in tags and "molprior.held_out_alleles" not in tags
    assert "molprior.metric.note" not in tags
    assert tags["molprior.metric.best_val_roc_auc"] == tags["molprior.metric.val_roc_auc"] == "0.712346"
    assert tags["molprior.adapted_allele"] == "HLA-B*35:01" and tags["molprior.adapted_measurements"] == "64"
    assert tags["molprior.benchmark_metric"] == "val_roc_auc_500nM"  # an extra tag wins
    assert all(isinstance(v, str) and v for v in tags.values())


@pytest.mark.parametrize("maml, name", [
    ({"anil": True, "inner_steps": 20}, "anil"), ({"anil": True, "first_order": True}, "anil"),
    ({"anil": False, "first_order": True}, "fomaml"), ({"first_order": False}, "maml"), ({}, "maml")])
def test_the_algorithm_is_named_from_the_inner_loop(maml, name):
    assert algorithm_name(maml) == name


def test_the_registered_version_is_the_model_with_its_lineage(mhc_model, predictor, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.chdir(tmp_path)
    try:
        with runs.tracked_run("register-test") as run:
            version = register_mhc(mhc_model[0], predictor, "unit-test-mhc", {"molprior.stage": "test"},
                                   description="the tiny MHC model")
        assert version.name == "unit-test-mhc" and version.version in ("1", 1)
        assert version.description == "the tiny MHC model" and version.run_id == run.info.run_id
        assert version.tags == {**mhc_lineage_tags(predictor), "molprior.stage": "test"}
        from molprior.tracking.artifacts import resolve_model_dir

        registered = load_predictor(resolve_model_dir("models:/unit-test-mhc/1", "mhc"))
        assert registered.supported == predictor.supported
        for allele in predictor.supported:
            np.testing.assert_array_equal(registered.predict_ic50(EPITOPES, allele),
                                          predictor.predict_ic50(EPITOPES, allele))
    finally:
        mlflow.set_tracking_uri(None)
