"""Model URIs to local directories: a tracking server that does not answer fails at once, and
a downloaded model leaves nothing behind when the process ends."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest

from molprior.cli.main import main
from molprior.tracking import runs
from molprior.tracking.artifacts import local_model_dir
from _servers import free_port


@pytest.fixture
def unreachable(monkeypatch) -> str:
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connections are refused
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.mark.parametrize("model", ["models:/molprior-demo@champion", "models:/molprior-demo/3", "runs:/0123abcd/model",
                                   "mlflow-artifacts:/0/0123abcd/artifacts/model"])
def test_model_uris_check_the_tracking_server_first(unreachable, model):
    with pytest.raises(runs.TrackingServerError, match=f"{unreachable} is unreachable"):
        local_model_dir(model)


def test_a_separate_registry_server_is_checked_too(monkeypatch, tmp_path):
    registry = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", registry)
    with pytest.raises(runs.TrackingServerError, match=f"{registry} is unreachable"):
        local_model_dir("models:/molprior-demo@champion")


def test_predict_with_a_registry_model_and_an_unreachable_server(unreachable, tmp_path, capsys):
    library = tmp_path / "library.csv"
    library.write_text("smiles\nCCO\n")
    code = main(["predict", "--model", "models:/molprior-demo@champion", "--input", str(library),
                 "--output", str(tmp_path / "scores.csv")])
    err = capsys.readouterr().err
    assert code == 2 and "unreachable" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "scores.csv").exists()


RESOLVE = """
import sys
from molprior.tracking.artifacts import local_model_dir
path = local_model_dir(sys.argv[1])
assert (path / "model.json").read_text() == "{}"
print(path)
"""


def _logged_tiny_model(tmp_path: Path) -> str:
    """The id of a logged model whose only file is ``model.json`` (a few-shot model's marker)."""
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "model.json").write_text("{}")
    with runs.tracked_run("unit-test"):
        return runs.log_model_dir("tiny", model, "molprior-test")


def test_a_downloaded_model_is_removed_when_the_process_exits(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    model_id = _logged_tiny_model(tmp_path)
    version = mlflow.register_model(f"models:/{model_id}", "tiny-test")
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = subprocess.run([sys.executable, "-c", RESOLVE, f"models:/tiny-test/{version.version}"],
                            capture_output=True, text=True, env={**os.environ, "TMPDIR": str(temporary)})
    assert result.returncode == 0, result.stderr[-3000:]
    downloaded = Path(result.stdout.strip().splitlines()[-1])
    assert downloaded.is_relative_to(temporary)  # it was downloaded there...
    assert not downloaded.exists()  # ...and is gone
    assert not list(temporary.glob("molprior-*")), json.dumps(os.listdir(temporary))


def test_a_failed_download_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR is read again
    with pytest.raises(mlflow.exceptions.MlflowException):
        local_model_dir("models:/no-such-model/1")
    assert not list(tmp_path.glob("molprior-*"))


def test_a_models_kind_is_known_by_what_it_holds(tmp_path):
    from molprior.errors import MissingError
    from molprior.tracking.artifacts import SHIPPED_FEWSHOT, SHIPPED_MHC, resolve_model_kind

    assert resolve_model_kind(None) == ("fewshot", SHIPPED_FEWSHOT)
    assert resolve_model_kind(SHIPPED_FEWSHOT) == ("fewshot", SHIPPED_FEWSHOT)
    assert resolve_model_kind(str(SHIPPED_MHC)) == ("mhc", SHIPPED_MHC)
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "mhc.json").write_text("{}")
    assert resolve_model_kind(tmp_path) == ("mhc", tmp_path / "model")  # a training output's model/
    (tmp_path / "empty").mkdir()
    with pytest.raises(MissingError, match="holds no model.json or mhc.json: not a molprior few-shot or MHC model"):
        resolve_model_kind(tmp_path / "empty")


def test_a_model_uri_is_downloaded_once_per_command(tmp_path, monkeypatch):
    from molprior.tracking.artifacts import one_download_per_uri, resolve_model_kind

    monkeypatch.chdir(tmp_path)
    uri = f"models:/{_logged_tiny_model(tmp_path)}"
    downloads = []
    download = mlflow.artifacts.download_artifacts
    monkeypatch.setattr(mlflow.artifacts, "download_artifacts",
                        lambda **kwargs: downloads.append(kwargs["artifact_uri"]) or download(**kwargs))
    with one_download_per_uri():
        kind, found = resolve_model_kind(uri)  # what the command does first: which kind of model
        assert kind == "fewshot" and local_model_dir(uri) == found  # ...then the model itself
        with one_download_per_uri():  # a nested block shares the outer one's downloads
            assert local_model_dir(uri) == found
    assert downloads == [uri]
    assert local_model_dir(uri) != found and downloads == [uri, uri]  # outside a command: each look downloads
