"""Where a model lives: a local directory, an MLflow run or registry URI, or the shipped prior.

``resolve_model_dir`` turns any of them into a local directory; MLflow URIs are downloaded
with ``mlflow.artifacts.download_artifacts`` (weights are safetensors, so nothing is
unpickled on the way in) into temporary directories that go when the process exits.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from molprior.errors import MissingError

SHIPPED_PRIOR = Path(__file__).resolve().parents[1] / "priors" / "default"
#: The shipped few-shot model: meta-trained on FS-Mol's training tasks (see its MODEL_CARD.md).
SHIPPED_FEWSHOT = Path(__file__).resolve().parents[1] / "priors" / "fewshot"
MARKERS = {"generator": "generator.json", "encoder": "encoder.json", "fewshot": "model.json"}


def resolve_model_dir(model: str | Path | None, kind: str = "generator") -> Path:
    """A local directory holding a ``kind`` model ("generator", "encoder" or "fewshot").

    ``model`` may be ``None`` (the shipped model: the generative prior, or for ``fewshot`` the
    shipped few-shot model), a model directory, a pretraining output directory (its ``model/``
    is used), or an MLflow URI such as ``runs:/<id>/model``, ``runs:/<id>/encoder`` or
    ``models:/NAME@ALIAS``.
    """
    marker = MARKERS[kind]
    if model is None:
        shipped = SHIPPED_FEWSHOT if kind == "fewshot" else SHIPPED_PRIOR
        if not (shipped / marker).exists() and not (shipped / "encoder" / marker).exists():
            raise MissingError(f"no shipped {kind} model in {shipped}; pass --model")
        return shipped
    return _find(local_model_dir(model), marker, str(model))


def local_model_dir(model: str | Path) -> Path:
    """``model`` itself when it is a local path, else its MLflow artifacts downloaded to a
    temporary directory, which is removed when this process exits (:func:`remove_downloads`).

    The tracking server (and a registry server of its own, ``$MLFLOW_REGISTRY_URI``) is
    checked first: an unreachable one fails at once (``TrackingServerError``), not after the
    minutes of retries of MLflow's client."""
    text = str(model)
    if text.startswith(("runs:/", "models:/", "mlflow-artifacts:/")):
        import mlflow

        from molprior.tracking.runs import check_tracking_server, quiet_mlflow, tracking_uri

        quiet_mlflow()
        check_tracking_server()
        registry = os.environ.get("MLFLOW_REGISTRY_URI")
        if text.startswith("models:/") and registry and registry != tracking_uri():
            check_tracking_server(registry)
        mlflow.set_tracking_uri(tracking_uri())
        destination = _download_dir()
        try:
            return Path(mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=str(destination)))
        except BaseException:
            shutil.rmtree(destination, ignore_errors=True)
            raise
    path = Path(model)
    if not path.exists():
        raise MissingError(f"no such model directory: {path}")
    return path


#: The download directories of each process (by pid: a forked child removes its own only).
_downloads: dict[int, list[Path]] = {}


def _download_dir() -> Path:
    """A new temporary directory for a download, removed when this process exits."""
    pid = os.getpid()
    if pid not in _downloads:
        _downloads[pid] = []
        atexit.register(remove_downloads)
    path = Path(tempfile.mkdtemp(prefix="molprior-"))
    _downloads[pid].append(path)
    return path


def remove_downloads() -> None:
    """Remove the models this process downloaded (runs at exit; the models loaded from them
    are in memory by then, and a directory a caller still reads must not go earlier)."""
    for path in _downloads.pop(os.getpid(), []):
        shutil.rmtree(path, ignore_errors=True)


def _find(path: Path, marker: str, name: str) -> Path:
    # a model directory, a pretraining output, or a packaged pyfunc model (its meta-trained model)
    for candidate in (path, path / "model", path / "encoder", path / "model" / "encoder", path / "artifacts" / "fewshot"):
        if (candidate / marker).exists():
            return candidate
    raise MissingError(f"{name} holds no {marker}: not a molprior model")
