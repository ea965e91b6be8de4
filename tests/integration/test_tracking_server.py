"""The registry commands against a real ``mlflow server`` process on loopback (sqlite backend,
local artifact directory), and an unreachable server reported before any work starts."""

from __future__ import annotations

import time

import pytest

from molprior.cli.main import main
from molprior.tracking import registry
from molprior.tracking.pyfunc import log_fewshot_pyfunc
from molprior.tracking.runs import tracked_run
from _fewshot import TEST, long_file
from _servers import MLFLOW, free_port, running


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    command = [MLFLOW, "server", "--backend-store-uri", f"sqlite:///{base / 'server.db'}", "--artifacts-destination",
               str(base / "artifacts"), "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    with running(command, f"http://127.0.0.1:{port}/health", base / "server.log"):
        yield f"http://127.0.0.1:{port}", base


def test_registry_commands_against_a_tracking_server(server, fewshot_models, monkeypatch, tmp_path, capsys):
    uri, base = server
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    meta, adapted = fewshot_models
    with tracked_run("register"):
        info = log_fewshot_pyfunc(meta, {TEST[0]: adapted})
    tags = {"molprior.assays": TEST[0], "molprior.targets": "CHEMBL2047", "molprior.task_type": "classification",
            "molprior.benchmark_metric": "m", "molprior.metric.m": "0.3"}
    version = registry.register(info.model_uri, "served", tags)
    assert str(registry.register(info.model_uri, "served", tags).version) == str(version.version)  # idempotent
    assert main(["registry", "promote", "served", str(version.version)]) == 0
    assert main(["registry", "promote", "served", str(version.version)]) == 0  # idempotent: no change
    assert "already holds" in capsys.readouterr().out
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "served" in out and uri in out.replace("\n", "")
    assert main(["registry", "show", "served@champion"]) == 0
    assert "targets" in capsys.readouterr().out
    assert main(["registry", "search", "--assay", TEST[0]]) == 0
    assert "served/1" in capsys.readouterr().out
    assert main(["registry", "compare", "served/1", "served@champion"]) == 0
    capsys.readouterr()
    # the artifacts went through the server into its artifact directory, not into the client's
    assert list((base / "artifacts").rglob("heads.json")) and not list(tmp_path.rglob("heads.json"))
    assert main(["predict", "--model", "models:/served@champion", "--input", str(long_file(tmp_path / "in.csv", 5)),
                 "--output", str(tmp_path / "scores.csv")]) == 0


def test_an_unreachable_server_is_reported_before_training_starts(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    start = time.monotonic()
    code = main(["metatrain", "--input", str(long_file(tmp_path / "assays.csv")), "--val-assays", "CHEMBL1871_Ki",
                 "--output", str(tmp_path / "meta")])
    assert code == 2 and time.monotonic() - start < 30
    assert "unreachable" in capsys.readouterr().err
    assert not (tmp_path / "meta" / "model").exists() and not (tmp_path / "meta" / "checkpoints").exists()
    assert main(["registry", "list"]) == 2
    assert "unreachable" in capsys.readouterr().err
