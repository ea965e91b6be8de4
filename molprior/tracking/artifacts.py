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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from molprior.errors import MissingError

PRIORS = Path(__file__).resolve().parents[1] / "priors"
SHIPPED_PRIOR = PRIORS / "default"
#: The shipped few-shot model: meta-trained on FS-Mol's training tasks (see its MODEL_CARD.md).
SHIPPED_FEWSHOT = PRIORS / "fewshot"
#: The shipped MHC class I predictor (see its MODEL_CARD.md).
SHIPPED_MHC = PRIORS / "mhc_i"
#: The file that marks a directory as holding a model of each kind.
MARKERS = {"generator": "generator.json", "encoder": "encoder.json", "fewshot": "model.json", "mhc": "mhc.json"}
#: How a kind of model is named in messages.
KIND_NAMES = {"generator": "generator", "encoder": "encoder", "fewshot": "few-shot", "mhc": "MHC"}


def shipped_model_dir(kind: str) -> Path:
    """Where the model of ``kind`` shipped with molprior lives (the generative prior for
    ``generator`` and ``encoder``)."""
    return {"fewshot": SHIPPED_FEWSHOT, "mhc": SHIPPED_MHC}.get(kind, SHIPPED_PRIOR)


def resolve_model_dir(model: str | Path | None, kind: str = "generator") -> Path:
    """A local directory holding a ``kind`` model (a key of :data:`MARKERS`): the one place a
    command turns what its user named into a model directory.

    ``model`` may be ``None`` (the shipped model of that kind), a model directory, a training
    or adaptation output directory (its ``model/`` is used), a downloaded pyfunc model (its
    artifact), or an MLflow URI such as ``runs:/<id>/model``, ``runs:/<id>/encoder`` or
    ``models:/NAME@ALIAS``.
    """
    marker = MARKERS[kind]
    if model is None:
        shipped = shipped_model_dir(kind)
        if _model_in(shipped, marker) is None:
            raise MissingError(f"no shipped {KIND_NAMES[kind]} model in {shipped}; pass --model")
        return shipped
    found = _model_in(local_model_dir(model), marker)
    if found is None:
        raise MissingError(f"{model} holds no {marker}: not a molprior {KIND_NAMES[kind]} model")
    return found


def resolve_model_kind(model: str | Path | None, kinds: tuple[str, ...] = ("fewshot", "mhc")) -> tuple[str, Path]:
    """Which of ``kinds`` ``model`` is, and its local directory (``None``: the shipped model of
    the first kind), so that one command can take a few-shot or an MHC model alike."""
    if model is None:
        return kinds[0], resolve_model_dir(None, kinds[0])
    local = local_model_dir(model)  # an MLflow URI is downloaded once
    for kind in kinds:
        found = _model_in(local, MARKERS[kind])
        if found is not None:
            return kind, found
    names = " or ".join(KIND_NAMES[k] for k in kinds)
    raise MissingError(f"{model} holds no {' or '.join(MARKERS[k] for k in kinds)}: not a molprior {names} model")


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
        if _shared_downloads is not None and text in _shared_downloads and _shared_downloads[text].exists():
            return _shared_downloads[text]
        destination = _download_dir()
        try:
            downloaded = Path(mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=str(destination)))
        except BaseException:
            shutil.rmtree(destination, ignore_errors=True)
            raise
        if _shared_downloads is not None:
            _shared_downloads[text] = downloaded
        return downloaded
    path = Path(model)
    if not path.exists():
        raise MissingError(f"no such model directory: {path}")
    return path


#: While :func:`one_download_per_uri` is active: where each MLflow URI was downloaded to.
_shared_downloads: dict[str, Path] | None = None


@contextmanager
def one_download_per_uri() -> Iterator[None]:
    """Within the block an MLflow URI is downloaded once, however often it is resolved: one
    command names one model and may look at it twice (which kind it is, then the model), and
    both looks see the same version even if an alias moves in between."""
    global _shared_downloads
    outer = _shared_downloads
    _shared_downloads = {} if outer is None else outer
    try:
        yield
    finally:
        _shared_downloads = outer


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


def _model_in(path: Path, marker: str) -> Path | None:
    """``path`` or the place inside it that holds ``marker``: a model directory, a training
    output (``model/``), a generator's encoder, or a packaged pyfunc model's artifact."""
    for candidate in (path, path / "model", path / "encoder", path / "model" / "encoder",
                      path / "artifacts" / "fewshot", path / "artifacts" / "mhc"):
        if (candidate / marker).exists():
            return candidate
    return None
