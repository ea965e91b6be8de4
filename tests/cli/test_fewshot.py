"""metatrain -> adapt -> predict through the command line, on real assays, with bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from molprior.cli.main import main
from _fewshot import TEST, TINY, TRAIN, VAL, long_file, support_file


@pytest.fixture(scope="module")
def metatrained(tmp_path_factory):
    """A tiny meta-trained model (first-order MAML, 1 epoch) and its MLflow store."""
    base = tmp_path_factory.mktemp("fewshot-cli")
    mp = pytest.MonkeyPatch()
    mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
    mp.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
    config = base / "metatrain.yaml"
    config.write_text(yaml.safe_dump({**TINY, "trainer": {"max_epochs": 1}}))
    code = main(["-q", "metatrain", "--input", str(long_file(base / "assays.csv")), "--config", str(config),
                 "--val-assays", ",".join(VAL), "--test-assays", ",".join(TEST), "--first-order", "--inner-steps", "2",
                 "--output", str(base / "meta")])
    assert code == 0
    yield base
    mp.undo()


@pytest.fixture
def store(metatrained, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{metatrained / 'mlflow.db'}")
    monkeypatch.setenv("MOLPRIOR_CACHE_DIR", str(metatrained / "cache"))
    return metatrained


def test_adapt_then_predict_keeps_rows_in_order_and_reports_errors(store, tmp_path, capsys):
    support = support_file(tmp_path / "support.csv", n=32)
    assert main(["adapt", "--model", str(store / "meta"), "--support", str(support), "--output",
                 str(tmp_path / "adapted")]) == 0
    out = capsys.readouterr().out
    assert "adapted to 32 molecules" in out and "16 actives" in out
    description = json.loads((tmp_path / "adapted" / "model.json").read_text())
    assert description["adapted"] and description["metadata"]["n_support"] == 32

    query = pd.read_csv(support_file(tmp_path / "q.csv", n=6, offset=40))
    lines = ["name,smiles"] + [f"mol{i},{s}" for i, s in enumerate(query["smiles"][:3])]
    lines += ["bad,C1CC", "broken,CCO,extra", "empty,", f"mol3,{query['smiles'][3]}"]
    (tmp_path / "input.csv").write_text("\n".join(lines) + "\n")
    assert main(["predict", "--model", str(tmp_path / "adapted"), "--input", str(tmp_path / "input.csv"),
                 "--output", str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv", keep_default_na=False)
    assert list(scores.columns) == ["name", "smiles", "probability_active", "uncertainty", "support_similarity", "error"]
    assert scores["name"].tolist() == ["mol0", "mol1", "mol2", "bad", "", "empty", "mol3"]  # every row, in order
    good = scores[scores["error"] == ""]
    assert good["name"].tolist() == ["mol0", "mol1", "mol2", "mol3"]
    assert good["probability_active"].astype(float).between(0, 1).all()
    assert good["support_similarity"].astype(float).between(0, 1).all()
    errors = dict(zip(scores.index, scores["error"]))
    assert "parse" in errors[3].lower() or "smiles" in errors[3].lower()
    assert "malformed line" in errors[4] and errors[5]


def test_a_support_of_one_class_is_a_clear_error(store, tmp_path, capsys):
    frame = pd.read_csv(support_file(tmp_path / "all.csv", n=60))
    frame.assign(active=1)[["smiles", "active"]].head(20).to_csv(tmp_path / "actives.csv", index=False)
    assert main(["adapt", "--model", str(store / "meta"), "--support", str(tmp_path / "actives.csv"),
                 "--output", str(tmp_path / "adapted")]) == 2
    assert "only actives" in capsys.readouterr().err
    assert not (tmp_path / "adapted" / "model.json").exists()


def test_unparseable_support_molecules_are_reported_and_left_out(store, tmp_path, caplog):
    support = pd.read_csv(support_file(tmp_path / "s.csv", n=24))
    support.loc[len(support)] = ["not_a_smiles", 7.0]
    support.to_csv(tmp_path / "s.csv", index=False)
    assert main(["adapt", "--model", str(store / "meta"), "--support", str(tmp_path / "s.csv"), "--output",
                 str(tmp_path / "adapted")]) == 0
    rejected = pd.read_csv(tmp_path / "adapted" / "rejected.csv")
    assert rejected["input"].tolist() == ["not_a_smiles"] and rejected["line"].tolist() == [26]
    assert any("not_a_smiles" in r.getMessage() for r in caplog.records)


def test_predict_needs_an_adapted_model_and_accepts_run_uris(store, tmp_path, capsys):
    (tmp_path / "input.smi").write_text("CCO ethanol\nc1ccccc1O phenol\n")
    assert main(["predict", "--model", str(store / "meta"), "--input", str(tmp_path / "input.smi"),
                 "--output", str(tmp_path / "scores.csv")]) == 2
    assert "molprior adapt" in capsys.readouterr().err
    run_id = json.loads((store / "meta" / "model" / "model.json").read_text())["metadata"]["mlflow_run_id"]
    support = support_file(tmp_path / "support.csv", n=20)
    assert main(["adapt", "--model", f"runs:/{run_id}/model", "--support", str(support), "--output",
                 str(tmp_path / "adapted")]) == 0
    adapt_run = json.loads((tmp_path / "adapted" / "model.json").read_text())["metadata"]["mlflow_run_id"]
    assert main(["predict", "--model", f"runs:/{adapt_run}/model", "--input", str(tmp_path / "input.smi"),
                 "--output", str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert scores["name"].tolist() == ["ethanol", "phenol"] and scores["probability_active"].notna().all()


def test_adapt_takes_a_registry_uri_with_an_alias(store, tmp_path, capsys):
    import mlflow

    run_id = json.loads((store / "meta" / "model" / "model.json").read_text())["metadata"]["mlflow_run_id"]
    models = mlflow.search_logged_models(experiment_ids=[mlflow.get_run(run_id).info.experiment_id],
                                         filter_string=f"source_run_id = '{run_id}'", output_format="list")
    assert len(models) == 1
    version = mlflow.register_model(f"models:/{models[0].model_id}", "molprior-test-fewshot")
    mlflow.MlflowClient().set_registered_model_alias("molprior-test-fewshot", "champion", version.version)
    support = support_file(tmp_path / "support.csv", n=20)
    assert main(["adapt", "--model", "models:/molprior-test-fewshot@champion", "--support", str(support),
                 "--output", str(tmp_path / "adapted")]) == 0
    description = json.loads((tmp_path / "adapted" / "model.json").read_text())
    assert description["metadata"]["parent_model"] == "models:/molprior-test-fewshot@champion"


def test_predict_refuses_a_directory_or_the_input_as_output_before_loading_the_model(tmp_path, capsys):
    library = tmp_path / "library.csv"
    library.write_text("name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\n")
    (tmp_path / "results").mkdir()
    link = tmp_path / "link.csv"
    link.symlink_to(library)
    for output, message in ((tmp_path / "results", "is a directory"), (library, "would replace the input"),
                            (link, "would replace the input")):
        # the model does not exist: the output is refused before anything is loaded or scored
        assert main(["predict", "--model", str(tmp_path / "no-model"), "--input", str(library),
                     "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("molprior predict: error: --output ") and message in err and "Traceback" not in err
    assert library.read_text() == "name,smiles\naspirin,CC(=O)Oc1ccccc1C(=O)O\n"


def test_adapt_and_predict_report_the_molecules_the_model_was_meta_trained_on(store, tmp_path, capsys):
    """The model was meta-trained on the first 80 molecules of CHEMBL233_Ki: adapting it to 32 of
    them, and scoring 10 of them plus 10 of the unseen test assay, says how many it saw."""
    seen_support = support_file(tmp_path / "support.csv", assay=TRAIN[0], n=32)
    assert main(["adapt", "--model", str(store / "meta"), "--support", str(seen_support), "--output",
                 str(tmp_path / "adapted")]) == 0
    assert "32 of the 32 support molecules were in the model's meta-training data" in capsys.readouterr().out
    seen = pd.read_csv(support_file(tmp_path / "a.csv", assay=TRAIN[0], n=10, offset=40))["smiles"].tolist()
    fresh = pd.read_csv(support_file(tmp_path / "b.csv", assay=TEST[0], n=10, offset=100))["smiles"].tolist()
    (tmp_path / "library.csv").write_text("\n".join(["smiles", *seen, *fresh]) + "\n")
    # predict --support adapts first (here the tiny model; by default the shipped one) and keeps that model
    fresh_support = support_file(tmp_path / "fresh_support.csv", n=32)
    assert main(["predict", "--model", str(store / "meta"), "--support", str(fresh_support), "--input",
                 str(tmp_path / "library.csv"), "--output", str(tmp_path / "scores.csv")]) == 0
    out = capsys.readouterr().out
    assert "10 of the 20 scored molecules were in the model's meta-training data" in out
    assert (tmp_path / "scores.csv.model" / "model.json").exists()
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 20 and (scores["error"].isna()).all()


def test_predict_needs_an_adapted_model_or_a_support(tmp_path, capsys):
    (tmp_path / "library.csv").write_text("smiles\nCCO\n")
    code = main(["predict", "--input", str(tmp_path / "library.csv"), "--output", str(tmp_path / "s.csv")])
    assert code == 2 and "--support" in capsys.readouterr().err


def test_metatrain_on_allele_measurements_trains_the_mhc_model(mhc_model, tmp_path, monkeypatch, capsys):
    """``molprior metatrain`` given an MHC run's settings.yaml (an MHC configuration) trains the
    MHC model as ``molprior peptides train`` did: the same weights, heads and reference."""
    from molprior.files import file_hash
    from molprior.serialization import load_predictor

    model_dir = mhc_model[0]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("MOLPRIOR_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "metatrain", "--config", str(model_dir.parent / "settings.yaml"), "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "MHC model: 5 alleles; best meta-validation ROC-AUC" in out and "runs:/" in out
    again = load_predictor(tmp_path / "out" / "model")
    assert again.supported == load_predictor(model_dir).supported
    assert file_hash(tmp_path / "out" / "model" / "alleles.safetensors") == file_hash(model_dir / "alleles.safetensors")


def test_metatrain_knows_allele_measurements_by_their_columns_or_format(mhc_model, tmp_path, capsys):
    from argparse import Namespace

    from molprior.cli.fewshot import _allele_measurements

    def given(**options):
        return Namespace(**{"format": "auto", "input": None, "config": None, **options})

    alleles = mhc_model[2]  # peptide, allele, measurement columns
    assays = long_file(tmp_path / "assays.csv")
    assert _allele_measurements(given(input=str(alleles)))
    assert not _allele_measurements(given(input=str(assays)))
    assert _allele_measurements(given(config="mhc")) and not _allele_measurements(given(config="metatrain"))
    assert _allele_measurements(given(format="mhc", input=str(assays)))
    assert main(["metatrain", "-i", str(alleles), "--algorithm", "adkf", "-o", str(tmp_path / "o")]) == 2
    assert "--algorithm" in capsys.readouterr().err
