import mlflow
import pandas as pd

from molprior.tracking import runs


def test_default_uri_is_sqlite_in_the_working_directory(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert runs.tracking_uri() == "sqlite:///mlflow.db"


def test_environment_variable_wins(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert runs.tracking_uri() == "http://127.0.0.1:5000"


def test_run_records_params_hashes_metrics_and_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    data = tmp_path / "input.csv"
    data.write_text("smiles,y\nCCO,1\n")
    frame = pd.DataFrame({"smiles": ["CCO"], "y": [1]})
    with runs.tracked_run("unit-test", params={"sizes": [16, 32], "seed": 0}) as run:
        digest = runs.log_input_file(data)
        runs.log_table_hash(frame, "table")
        runs.log_metrics({"score": 0.5})
        runs.log_files([data], artifact_path="inputs")
        runs.log_frame(frame, "tables/frame.csv")
        assert runs.active()
    assert not runs.active()
    stored = mlflow.get_run(run.info.run_id)
    assert stored.data.params["sizes"] == "16,32"
    assert stored.data.params["input.sha256"] == digest and len(digest) == 64
    assert len(stored.data.params["table.sha256"]) == 64
    assert stored.data.metrics["score"] == 0.5
    assert stored.data.tags["molprior.command"] == "unit-test"
    artifacts = {a.path for a in mlflow.artifacts.list_artifacts(run_id=run.info.run_id)}
    assert {"inputs", "tables"} <= artifacts
    assert (tmp_path / "mlartifacts").is_dir() and not (tmp_path / "mlruns").exists()
