"""MLflow runs as molprior's commands keep them (molprior.tracking.runs): the tracking URI, what a
run records, the process that owns it, runs left RUNNING by ended processes, artifacts beside a
sqlite store, and resuming a training whose run was deleted."""

import os
import socket
import subprocess

import mlflow
import pandas as pd
import pytest

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


# --- runs left RUNNING by a process that has ended (kill -9, a crash) ---------------------------

@pytest.fixture
def process():
    """Start a process that only sleeps; yields (pid, its /proc start time, stop)."""
    child = subprocess.Popen(["sleep", "60"])
    stat = runs._process_stat(child.pid)

    def stop():
        child.kill()
        child.wait()

    yield child.pid, stat[1] if stat else "", stop
    stop()


def _owned_run(pid: int, start: str, host: str | None = None, name: str = "owned") -> str:
    """A RUNNING run whose owner tags name process ``pid``, as tracked_run records them."""
    mlflow.set_tracking_uri(runs.tracking_uri())
    runs.ensure_experiment(runs.DEFAULT_EXPERIMENT)
    experiment = mlflow.get_experiment_by_name(runs.DEFAULT_EXPERIMENT).experiment_id
    tags = {runs.HOST_TAG: host or socket.gethostname(), runs.PID_TAG: str(pid), runs.PID_START_TAG: start}
    return mlflow.MlflowClient().create_run(experiment, tags=tags, run_name=name).info.run_id


def test_a_run_records_the_process_that_owns_it():
    with runs.tracked_run("unit-test") as run:
        pass
    tags = mlflow.get_run(run.info.run_id).data.tags
    assert tags[runs.HOST_TAG] == socket.gethostname() and tags[runs.PID_TAG] == str(os.getpid())
    assert tags[runs.PID_START_TAG] == runs._process_stat(os.getpid())[1]


def test_runs_of_ended_processes_are_marked_killed_by_the_next_run(process):
    pid, start, stop = process
    elsewhere = _owned_run(pid, start, host="another-machine", name="elsewhere")
    reused = _owned_run(pid, str(int(start) + 1), name="reused-pid")  # the pid names a later process now
    stop()
    ended = _owned_run(pid, start, name="ended")  # killed with -9: no end time, still RUNNING
    legacy = mlflow.MlflowClient().create_run(mlflow.get_run(ended).info.experiment_id).info.run_id  # no owner
    assert mlflow.get_run(ended).info.status == "RUNNING"
    with runs.tracked_run("unit-test"):
        pass
    info = {run_id: mlflow.get_run(run_id).info for run_id in (elsewhere, reused, ended, legacy)}
    assert info[ended].status == info[reused].status == "KILLED"
    assert info[ended].end_time is not None
    assert f"process {pid} on {socket.gethostname()} ended" in mlflow.get_run(ended).data.tags[runs.ABANDONED_TAG]
    # what cannot be told from here is left alone
    assert info[elsewhere].status == info[legacy].status == "RUNNING"


def test_a_live_process_keeps_its_run(process):
    pid, start, _ = process
    live = _owned_run(pid, start)
    with runs.tracked_run("unit-test"):
        pass
    assert mlflow.get_run(live).info.status == "RUNNING"
    with pytest.raises(runs.RunInUseError, match=f"still running in process {pid}"):
        with runs.tracked_run("unit-test", run_id=live):
            pass
    assert mlflow.get_run(live).data.tags[runs.PID_TAG] == str(pid)


def test_continuing_an_abandoned_run_takes_it_over(process):
    pid, start, stop = process
    abandoned = _owned_run(pid, start)
    stop()
    with runs.tracked_run("unit-test", run_id=abandoned) as run:
        assert run.info.run_id == abandoned
        stored = mlflow.get_run(abandoned)
        assert stored.info.status == "RUNNING" and stored.data.tags[runs.PID_TAG] == str(os.getpid())
        assert runs.ABANDONED_TAG not in stored.data.tags
    assert mlflow.get_run(abandoned).info.status == "FINISHED"


def test_a_run_of_another_machine_is_continued_with_a_warning(caplog):
    """Whether its process lives cannot be told from here (e.g. a job requeued on another node)."""
    elsewhere = _owned_run(4242, "1", host="another-machine")
    with runs.tracked_run("unit-test", run_id=elsewhere):
        assert mlflow.get_run(elsewhere).data.tags[runs.HOST_TAG] == socket.gethostname()
    assert "process 4242 on another-machine, which cannot be checked" in caplog.text
    assert mlflow.get_run(elsewhere).info.status == "FINISHED"


def test_a_sqlite_stores_artifacts_stay_beside_its_database_whatever_the_working_directory(tmp_path, monkeypatch):
    store, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    store.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store / 'mlflow.db'}")
    with runs.tracked_run("unit-test"):
        runs.log_frame(pd.DataFrame({"a": [1]}), "tables/a.csv")
    assert (store / "mlartifacts").is_dir() and not (elsewhere / "mlartifacts").exists()
    assert runs.sqlite_artifact_root("sqlite:///mlflow.db") == elsewhere.resolve() / "mlartifacts"
    assert runs.sqlite_artifact_root("sqlite:///./sub/m.db?mode=ro") == elsewhere.resolve() / "sub" / "mlartifacts"
    assert runs.sqlite_artifact_root("http://127.0.0.1:5000") is None


def test_resuming_a_training_whose_run_was_deleted_starts_a_new_run_with_a_warning(tmp_path, caplog):
    with runs.tracked_run("unit-test") as run:
        deleted = run.info.run_id
    runs.record_run(tmp_path, deleted)
    mlflow.delete_run(deleted)
    checkpoint = tmp_path / "last.ckpt"
    assert runs.resumable_run(tmp_path, checkpoint) is None
    assert f"the MLflow run {deleted} recorded in" in caplog.text and "continuing from last.ckpt in a new run" in caplog.text
    runs.record_run(tmp_path, (live := mlflow.start_run().info.run_id))
    mlflow.end_run()
    assert runs.resumable_run(tmp_path, checkpoint) == live
    assert runs.resumable_run(tmp_path, None) is None
