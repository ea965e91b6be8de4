"""The pipeline (and demo) end to end on slices of the embedded data: nested runs, lineage on
the registered version, promotion, scoring through the registry, reuse of earlier runs."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest

from molprior.config import FewShotConfig, PipelineConfig, RegisterConfig
from molprior.meta.batches import MoleculeBank
from molprior.tracking import registry
from molprior.tracking.runs import tracking_uri
from molprior.workflows.pipeline import run_pipeline
from _fewshot import TEST, TINY, VAL, long_file


def _children(parent_id: str) -> dict[str, str]:
    found = mlflow.search_runs(search_all_experiments=True, output_format="list",
                               filter_string=f"tags.mlflow.parentRunId = '{parent_id}'")
    return {run.data.tags["molprior.command"]: run.info.run_id for run in found}


@pytest.fixture
def tiny_pipeline(tmp_path):
    metatrain = {**TINY, "trainer": {"max_epochs": 1},
                 "learner": {"algorithm": "maml", "maml": {"first_order": True, "inner_steps": 2}}}
    return PipelineConfig(
        fewshot=FewShotConfig(input=str(long_file(tmp_path / "assays.csv")), test_assays=TEST, val_assays=VAL,
                              support_sizes=[16], draws=2, methods=["rf_ecfp", "maml_pretrained"], metatrain=metatrain),
        register=RegisterConfig(name="tiny-demo", heads=TEST, support_size=32, metric="maml_pretrained.delta_auprc.k16"),
        fewshot_model="metatrain", output=str(tmp_path / "out"), jobs=1)


def test_pipeline_registers_a_champion_with_its_lineage_and_scores_through_it(tiny_pipeline, tmp_path, monkeypatch):
    from molprior.workflows import metatrain

    def featurised_again(*args, **kwargs):
        raise AssertionError("meta-training, the benchmark or adaptation featurised the input again")

    monkeypatch.setattr(metatrain, "FeatureCache", featurised_again)  # the run's one bank serves both
    monkeypatch.setattr(MoleculeBank, "build", classmethod(featurised_again))  # and the registered heads' supports
    outcome = run_pipeline(tiny_pipeline, cache_dir=tmp_path / "cache")
    children = _children(outcome.run_id)
    assert set(children) == {"metatrain", "benchmark", "adapt", "register", "score"}
    version = registry.get_version("tiny-demo@champion")
    assert str(version.version) == str(outcome.registered.version) == "1"
    tags = version.tags
    assert tags["molprior.pipeline_run_id"] == outcome.run_id
    assert tags["molprior.metatrain_run_id"] == children["metatrain"]
    assert tags["molprior.benchmark_run_id"] == children["benchmark"]
    assert tags["molprior.train_assays"] == "CHEMBL233_Ki,CHEMBL236_Ki,CHEMBL237_Ki"
    assert tags["molprior.assays"] == TEST[0] and tags["molprior.targets"] == "CHEMBL2047"
    assert len(tags["molprior.data_sha256.input"]) == 64 and tags["molprior.featurizer_version"]
    assert tags["molprior.git_commit"] and tags["molprior.benchmark_metric"] == "maml_pretrained.delta_auprc.k16"
    benchmark = mlflow.get_run(children["benchmark"]).data.metrics
    assert float(tags["molprior.metric.maml_pretrained.delta_auprc.k16"]) == pytest.approx(
        benchmark["maml_pretrained.delta_auprc.k16"], rel=1e-5)
    scores = pd.read_csv(outcome.scores, keep_default_na=False)
    library = pd.read_csv(tmp_path / "out" / "register" / TEST[0] / "library.csv")
    assert len(scores) == len(library) == 80 - 32 and (scores["error"] == "").all()
    assert 0 <= outcome.score_metrics["score.roc_auc"] <= 1


def test_by_default_the_pipeline_benchmarks_and_registers_the_shipped_few_shot_model(tmp_path):
    from molprior.tracking.artifacts import SHIPPED_FEWSHOT
    from molprior.serialization import read_json_object

    config = PipelineConfig(
        fewshot=FewShotConfig(input=str(long_file(tmp_path / "assays.csv")), test_assays=TEST, support_sizes=[16],
                              draws=2, methods=["rf_ecfp", "molprior"]),
        register=RegisterConfig(name="shipped-demo", heads=TEST, support_size=32), output=str(tmp_path / "out"),
        jobs=1)
    outcome = run_pipeline(config, cache_dir=tmp_path / "cache")
    assert set(_children(outcome.run_id)) == {"benchmark", "adapt", "register", "score"}  # no meta-training
    assert outcome.metatrained_model == SHIPPED_FEWSHOT
    results = pd.read_csv(outcome.fewshot.outputs["results"])
    assert list(dict.fromkeys(results["method"])) == ["rf_ecfp", "molprior"]
    tags = registry.get_version("shipped-demo@champion").tags
    shipped = read_json_object(SHIPPED_FEWSHOT / "model.json")["metadata"]
    assert tags["molprior.metatrain_run_id"] == shipped["mlflow_run_id"]
    assert tags["molprior.benchmark_metric"] == "molprior.delta_auprc.k16"
    # thousands of FS-Mol training tasks: too many names for a tag, so their count and hash
    assert tags["molprior.train_assays"].startswith(f"{len(shipped['train_assays'])} assays (sha256 ")
    assert 0 <= outcome.score_metrics["score.roc_auc"] <= 1


def test_steps_reuse_earlier_runs_and_a_version_that_is_not_better_is_not_promoted(tiny_pipeline, tmp_path):
    first = run_pipeline(tiny_pipeline, cache_dir=tmp_path / "cache")
    tiny_pipeline.reuse = {"metatrain": first.step_runs["metatrain"], "benchmark": first.step_runs["benchmark"]}
    tiny_pipeline.output = str(tmp_path / "again")
    second = run_pipeline(tiny_pipeline, cache_dir=tmp_path / "cache")
    assert set(_children(second.run_id)) == {"adapt", "register", "score"}  # nothing recomputed
    assert second.step_runs["metatrain"] == first.step_runs["metatrain"]
    assert str(second.registered.version) == "2"
    assert second.promotion is None and "not better" in second.promotion_refused  # same benchmark metric
    assert str(registry.get_version("tiny-demo@champion").version) == "1"
    assert second.registered.tags["molprior.metatrain_run_id"] == first.step_runs["metatrain"]


def test_an_unknown_reuse_run_stops_before_anything_runs(tiny_pipeline):
    tiny_pipeline.reuse = {"metatrain": "0123456789abcdef0123456789abcdef"}
    with pytest.raises(ValueError, match="no MLflow run"):
        run_pipeline(tiny_pipeline)
    mlflow.set_tracking_uri(tracking_uri())  # this test's own store
    assert mlflow.search_runs(search_all_experiments=True, output_format="list") == []


def test_featurisation_reuses_the_cache(tmp_path, moleculeace_dir):
    data = tmp_path / "moleculeace"
    data.mkdir()
    for assay in ("CHEMBL4203_Ki", "CHEMBL2047_EC50"):
        (data / f"{assay}.csv").write_bytes((moleculeace_dir / f"{assay}.csv").read_bytes())
    config = PipelineConfig(
        fewshot=FewShotConfig(input=str(data), test_assays=["CHEMBL4203_Ki", "CHEMBL2047_EC50"],
                              support_sizes=[16], draws=2),
        output=str(tmp_path / "out"), jobs=1)
    outcome = run_pipeline(config, cache_dir=tmp_path / "cache")
    results = pd.read_csv(outcome.fewshot.outputs["results"])
    assert set(results["method"]) == {"rf_ecfp", "knn_tanimoto"} and (results["n_tasks"] == 2).all()
    first = mlflow.get_run(outcome.run_id).data.metrics
    assert first["featurize.from_cache"] == 0 and first["featurize.graphs"] > 500
    again = run_pipeline(config, cache_dir=tmp_path / "cache")
    second = mlflow.get_run(again.run_id).data.metrics
    assert second["featurize.from_cache"] == first["featurize.graphs"]
    assert "rf_ecfp.delta_auprc.k16" in mlflow.get_run(again.step_runs["benchmark"]).data.metrics


def test_pipeline_pretrains_and_generates(tmp_path, moleculeace_dir):
    data = tmp_path / "moleculeace"
    data.mkdir()
    (data / "CHEMBL4203_Ki.csv").write_bytes((moleculeace_dir / "CHEMBL4203_Ki.csv").read_bytes())
    config = PipelineConfig(
        fewshot=FewShotConfig(input=str(data), test_assays=["CHEMBL4203_Ki"], support_sizes=[16], draws=1,
                              methods=["knn_tanimoto"]),
        pretrain={"corpus": str(moleculeace_dir.parent / "moses" / "moses_train_50k.csv.gz"), "max_molecules": 100,
                  "trainer": {"max_epochs": 1}, "batch_size": 32, "encoder": {"hidden_dim": 16, "num_layers": 1},
                  "decoder": {"latent_dim": 8, "hidden_dim": 16, "embedding_dim": 8},
                  "optim": {"sample_size": 10, "reconstruction_size": 5}},
        generate=5, output=str(tmp_path / "out"), jobs=1)
    outcome = run_pipeline(config, cache_dir=tmp_path / "cache")
    assert outcome.pretraining is not None and (outcome.pretraining.model_dir / "generator.safetensors").exists()
    assert len(outcome.generated) == 5
    assert pd.read_csv(tmp_path / "out" / "generated.csv", keep_default_na=False)["smiles"].tolist() == outcome.generated
    child = mlflow.get_run(outcome.pretraining.run_id)
    assert child.data.tags["mlflow.parentRunId"] == outcome.run_id
