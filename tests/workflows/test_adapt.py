"""``molprior adapt`` on the tiny meta-trained model and real MoleculeACE supports: the support
read and labelled, the adapted weights saved with the support and the parent's record of its
meta-training molecules, the tracked run and logged model, and the inputs it refuses."""

from __future__ import annotations

import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import torch

from _fewshot import MOLECULEACE_DIR, TRAIN, support_file
from molprior.cli.main import main
from molprior.data import leakage
from molprior.data.tasks import FewShotTask
from molprior.files import file_hash, verify_manifest
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel
from molprior.serialization import load_learner
from molprior.workflows.adapt import adapt, count_seen, load_fewshot_model, read_support, run_adapt, support_bank


@pytest.fixture(autouse=True)
def store(tmp_path, monkeypatch):
    """This test's MLflow store, under its own directory."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    yield uri
    mlflow.set_tracking_uri(None)


def test_the_adapted_model_is_saved_with_its_support_and_lineage_and_tracked(fewshot_models, tmp_path):
    meta, _ = fewshot_models
    support = support_file(tmp_path / "support.csv", n=32, offset=40)  # CHEMBL2047_EC50: never meta-trained on
    outcome = run_adapt(meta, support, tmp_path / "adapted", seed=3)
    assert outcome.assay == "pEC50" and outcome.n_support == 32 and outcome.rejected.empty
    assert outcome.model_dir == tmp_path / "adapted"

    # the support: every molecule with its measurement, labelled at the assay's median
    measured = pd.read_csv(support)
    saved = pd.read_csv(outcome.model_dir / "support.csv")
    assert saved["smiles"].tolist() == measured["smiles"].tolist()
    np.testing.assert_allclose(saved["value"], measured["pEC50"])
    actives, inactives = saved.loc[saved["label"] == 1, "value"], saved.loc[saved["label"] == 0, "value"]
    assert len(actives) + len(inactives) == 32 and actives.min() > inactives.max()
    assert outcome.n_actives == len(actives) and 12 <= len(actives) <= 20

    # the weights saved are the meta-trained model adapted to exactly this support
    learner, parent, _ = load_fewshot_model(meta)
    task, _ = read_support(support)
    bank, _ = MoleculeBank.build(task.inputs, fingerprint_bits=learner.model.head_config.fingerprint_dim)
    torch.manual_seed(3)
    adapted, _ = adapt(learner, task, bank)
    verify_manifest(outcome.model_dir, required=True)
    saved_learner, description = load_learner(outcome.model_dir)
    state = saved_learner.state_dict()
    for name, value in adapted.params.items():
        torch.testing.assert_close(state[f"maml.model.{name}"], value, rtol=0, atol=0)
    metadata = description["metadata"]
    assert description["adapted"] and metadata["assay"] == "pEC50"
    assert metadata["parent_model"] == str(meta) and metadata["parent_run_id"] == parent["metadata"]["mlflow_run_id"]
    assert metadata["mlflow_run_id"] == outcome.run_id and metadata["support_sha256"] == file_hash(support)
    assert metadata["n_support"] == 32 and metadata["n_actives"] == outcome.n_actives
    assert metadata["train_assays"] == TRAIN == parent["metadata"]["train_assays"]
    # the parent's record of its meta-training molecules goes with the adapted model
    np.testing.assert_array_equal(leakage.load_seen(outcome.model_dir), leakage.load_seen(meta))
    skeletons = leakage.load_seen_skeletons(meta)  # and its prefilter, written by meta-training
    assert skeletons is not None and len(skeletons) <= len(leakage.load_seen(meta))
    np.testing.assert_array_equal(leakage.load_seen_skeletons(outcome.model_dir), skeletons)
    assert metadata["n_support_seen_in_meta_training"] == outcome.n_seen == 0

    run = mlflow.get_run(outcome.run_id)
    assert run.data.tags["molprior.command"] == "adapt" and run.info.status == "FINISHED"
    assert run.data.params["model"] == str(meta) and run.data.params["seed"] == "3"
    assert run.data.params["support.sha256"] == file_hash(support)
    assert run.data.metrics == {"n_support": 32, "n_actives": outcome.n_actives, "adapt_seconds": outcome.seconds,
                                "lines_rejected": 0, "n_support_seen": 0}
    downloaded = Path(mlflow.artifacts.download_artifacts(run_id=outcome.run_id, artifact_path="model",
                                                          dst_path=str(tmp_path / "download")))
    for name in ("model.json", "model.safetensors", "support.csv"):  # the run keeps the model as saved
        assert (downloaded / name).read_bytes() == (outcome.model_dir / name).read_bytes(), name
    logged = mlflow.get_logged_model(outcome.model_id)
    assert logged.source_run_id == outcome.run_id
    assert logged.tags["molprior.stage"] == "adapt" and logged.tags["molprior.assay"] == "pEC50"


def test_support_molecules_the_model_was_meta_trained_on_are_counted(fewshot_models, tmp_path, caplog):
    meta, _ = fewshot_models
    support = support_file(tmp_path / "seen.csv", assay=TRAIN[0], n=20)  # among its 80 meta-training rows
    with caplog.at_level(logging.WARNING, logger="molprior.workflows.adapt"):
        outcome = run_adapt(meta, support, tmp_path / "adapted")
    assert outcome.n_seen == 20
    assert any("20 of the 20 molecules were among the model's meta-training molecules" in r.getMessage()
               for r in caplog.records)
    assert mlflow.get_run(outcome.run_id).data.metrics["n_support_seen"] == 20
    fresh = pd.read_csv(MOLECULEACE_DIR / f"{TRAIN[0]}.csv")["smiles"].iloc[200:210].tolist()  # past its 80 rows
    seen = pd.read_csv(support)["smiles"].iloc[0]
    assert count_seen(fresh, meta) == 0 and count_seen(fresh[:3] + [seen], meta) == 1
    (tmp_path / "no-record").mkdir()
    assert count_seen(fresh, tmp_path / "no-record") is None  # a model that does not say


def test_unusable_support_lines_are_set_aside_with_their_reasons(fewshot_models, tmp_path):
    meta, _ = fewshot_models
    frame = pd.read_csv(support_file(tmp_path / "support.csv", n=24)).astype({"pEC50": object})
    frame.loc[3, "smiles"] = "C1CC"
    frame.loc[7, "pEC50"] = "n/a"
    frame.to_csv(tmp_path / "support.csv", index=False)
    outcome = run_adapt(meta, tmp_path / "support.csv", tmp_path / "adapted")
    assert outcome.n_support == 22
    assert outcome.rejected[["line", "input", "reason"]].values.tolist() == [
        [5, "C1CC", "unparseable SMILES (syntax error)"],
        [9, frame.loc[7, "smiles"], "no measurement in any target column"]]
    saved = pd.read_csv(tmp_path / "adapted" / "rejected.csv")
    assert saved["line"].tolist() == [5, 9]
    assert len(pd.read_csv(tmp_path / "adapted" / "support.csv")) == 22
    assert mlflow.get_run(outcome.run_id).data.metrics["lines_rejected"] == 2


def test_a_support_file_must_name_one_usable_assay(tmp_path):
    a = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv").head(20)
    path = tmp_path / "two.csv"
    pd.DataFrame({"smiles": a["smiles"], "D2": a["y"], "FXR": a["y"][::-1].to_numpy()}).to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"holds 2 assays \['D2', 'FXR'\]: choose one with --assay"):
        read_support(path)
    task, rejected = read_support(path, assay="FXR")
    assert task.assay == "FXR" and task.inputs == a["smiles"].tolist() and rejected.empty
    np.testing.assert_allclose(task.values, a["y"][::-1])
    with pytest.raises(ValueError, match="not in the table"):
        read_support(path, assay="D3")
    (tmp_path / "bad.csv").write_text("smiles,pKi\nC1CC,6.0\nc1cccc1,7.0\n")
    with pytest.raises(ValueError, match=r"no usable support molecules \(2 lines rejected\)"):
        read_support(tmp_path / "bad.csv")


def test_a_regression_model_needs_a_value_for_every_support_molecule():
    torch.manual_seed(0)
    learner = FewShotLearner(TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1)),
                                       HeadConfig(hidden_dim=16, fingerprint_dim=0)),
                             LearnerConfig(task_type="regression"))
    frame = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv").head(8)
    smiles, values = frame["smiles"].tolist(), (frame["y"] + 9).to_numpy()
    bank, _ = MoleculeBank.build(smiles)
    adapted, _ = adapt(learner, FewShotTask("CHEMBL214_Ki", smiles, (values > 7).astype(float), values), bank)
    assert adapted.target_mean == pytest.approx(values.mean(), rel=1e-5)
    gappy = values.copy()
    gappy[2] = np.nan
    for missing in (None, gappy):
        task = FewShotTask("CHEMBL214_Ki", smiles, (values > 7).astype(float), missing)
        with pytest.raises(ValueError, match="a regression model needs a measured value for every support molecule"):
            adapt(learner, task, bank)


def test_a_description_gives_a_zero_shot_model_and_a_start_for_a_support(hyper_model, tmp_path, capsys):
    from molprior.inference.assay_scoring import AssayScorer

    model_dir, data = hyper_model
    fsmol = pd.read_csv(data)
    test = fsmol[fsmol["split"] == "test"]
    library = tmp_path / "library.csv"
    test[["smiles"]].to_csv(library, index=False)
    description = "Acetylcholinesterase; EC 3.1.1.7; enzyme > hydrolase; Homo sapiens; binding assay"
    assert main(["adapt", "--model", str(model_dir), "--description", description, "-o", str(tmp_path / "zs"),
                 "--assay", "AChE"]) == 0
    assert "zero-shot model 'AChE' from the description alone" in capsys.readouterr().out
    scorer = AssayScorer.load(tmp_path / "zs")
    assert scorer.description["metadata"]["description"] == description and scorer.support_fingerprints is None
    scores = scorer.score(test["smiles"].tolist())
    scored = scores["probability_active"].notna()
    assert scored.sum() > 100 and (scored | (scores["error"] != "")).all()  # an unscored row says why
    assert scores["support_similarity"].isna().all()  # no support to compare with
    # the same description, the same head (the diffusion sampler is seeded)
    assert main(["adapt", "--model", str(model_dir), "--description", description, "-o", str(tmp_path / "zs2")]) == 0
    np.testing.assert_array_equal(AssayScorer.load(tmp_path / "zs2").score(test["smiles"].tolist())["probability_active"],
                                  scores["probability_active"])
    # with a support, the description is the start the support adapts from
    task = test[test["assay"] == test["assay"].iloc[0]]
    support = tmp_path / "support.csv"
    pd.concat([task[task["label"] == 1].head(16), task[task["label"] == 0].head(16)])[["smiles", "label"]].to_csv(
        support, index=False)
    assert main(["adapt", "--model", str(model_dir), "--description", description, "--support", str(support),
                 "-o", str(tmp_path / "both")]) == 0
    both = AssayScorer.load(tmp_path / "both")
    rejected = pd.read_csv(tmp_path / "both" / "rejected.csv")  # FS-Mol's P-H oxides do not standardise
    assert both.description["metadata"]["n_support"] == 32 - len(rejected)
    assert not np.array_equal(both.score(test["smiles"].tolist())["probability_active"], scores["probability_active"])


def test_a_description_must_be_readable_and_needs_a_hyper_model(hyper_model, tmp_path, capsys):
    model_dir, _ = hyper_model
    for text, message in (("", "the description is empty"), ("qqq zzz", "no word of the description 'qqq zzz'")):
        assert main(["adapt", "--model", str(model_dir), "--description", text, "-o", str(tmp_path / "x")]) == 2
        assert message in capsys.readouterr().err
    assert main(["adapt", "--model", str(model_dir), "-o", str(tmp_path / "x")]) == 2
    assert "needs a support file (--support), a description (--description), or both" in capsys.readouterr().err
    assert main(["adapt", "--description", "kinase", "-o", str(tmp_path / "x")]) == 2  # the shipped adkf model
    assert "is not a hyper_maml model" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_runs_bank_gives_the_support_its_graphs_without_featurising_again():
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(40).tolist()
    run_bank, _ = MoleculeBank.build(smiles, fingerprint_bits=2048)
    support = smiles[5:25]
    for bits in (0, 1024, 2048):
        reused, errors = support_bank(support, bits, run_bank)
        fresh, _ = MoleculeBank.build(support, fingerprint_bits=bits)
        assert errors == {} and reused.graphs.smiles == fresh.graphs.smiles
        np.testing.assert_array_equal(reused.graphs.x, fresh.graphs.x)
        np.testing.assert_array_equal(reused.graphs.edge_index, fresh.graphs.edge_index)
        assert (reused.fingerprints is None) == (bits == 0)
        if bits:
            np.testing.assert_array_equal(reused.fingerprints, fresh.fingerprints)
    # a molecule the bank lacks: the support is featurised here, its failures reported
    reused, errors = support_bank(support + ["C1CC"], 0, run_bank)
    assert len(reused) == len(support) and "C1CC" in errors
