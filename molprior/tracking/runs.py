"""MLflow runs for every command that computes something.

The tracking URI is ``$MLFLOW_TRACKING_URI`` when set, otherwise ``sqlite:///mlflow.db`` in
the working directory (MLflow's file store under ``./mlruns`` is deprecated).  Pass the
same URI to Lightning's ``MLFlowLogger`` (:func:`tracking_uri`).
"""

from __future__ import annotations

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from molprior import __version__
from molprior.files import file_hash, frame_hash

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "molprior"


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` (relative to the working directory)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


class TrackingServerError(RuntimeError):
    """The MLflow tracking server cannot be reached."""


def check_tracking_server(uri: str | None = None, timeout: float = 5.0) -> None:
    """Fail fast, with the URI and the reason, when an ``http(s)`` tracking server does not
    answer its ``/health`` endpoint: before any work starts, not when the first result is
    logged (MLflow's own client retries for minutes)."""
    import urllib.error
    import urllib.request

    uri = uri or tracking_uri()
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=timeout) as response:
            if response.status != 200:
                raise OSError(f"HTTP {response.status}")
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", None) or error
        raise TrackingServerError(f"the MLflow tracking server {uri} is unreachable ({reason}); nothing was run. "
                                  "Start it, or point MLFLOW_TRACKING_URI elsewhere (unset: sqlite:///mlflow.db)") from None


def quiet_mlflow() -> None:
    """No artifact progress bars; MLflow and its database libraries at WARNING."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "sqlalchemy", "matplotlib"):
        logging.getLogger(name).setLevel(logging.WARNING)


@contextmanager
def tracked_run(
    name: str,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, str] | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
    nested: bool = False,
    run_id: str | None = None,
) -> Iterator[Any]:
    """Start an MLflow run (nested under the active one when ``nested``; continuing run
    ``run_id`` when given, e.g. a resumed training); yield it."""
    import mlflow

    quiet_mlflow()
    if not nested:
        check_tracking_server()
    mlflow.set_tracking_uri(tracking_uri())
    if not nested:
        ensure_experiment(experiment)
    all_tags = {"molprior.version": __version__, "molprior.command": name, **(tags or {})}
    if run_id is not None:
        params = None  # already logged by the run being continued (MLflow refuses to change them)
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else name, nested=nested,
                          tags=None if run_id else all_tags) as run:
        if params:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
        yield run


def ensure_experiment(name: str) -> None:
    """Select experiment ``name``, creating it if needed.  With a local sqlite store its
    artifacts go to ``./mlartifacts`` (as ``mlflow server`` does), not the legacy ``./mlruns``."""
    import mlflow

    if mlflow.get_experiment_by_name(name) is None:
        location = None
        if tracking_uri().startswith("sqlite:"):
            location = (Path.cwd() / "mlartifacts").resolve().as_uri()
        try:
            mlflow.create_experiment(name, artifact_location=location)
        except mlflow.exceptions.MlflowException:
            pass  # created concurrently by another process
    mlflow.set_experiment(name)


def _param(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def log_input_file(path: str | Path, role: str = "input") -> str:
    """Log the SHA-256 of an input file or directory as parameter ``<role>.sha256``."""
    import mlflow

    if not Path(path).exists():  # a catalog dataset name: its table hash is logged instead
        mlflow.log_param(f"{role}.path", str(path))
        return ""
    digest = file_hash(path)
    mlflow.log_params({f"{role}.path": str(path), f"{role}.sha256": digest})
    return digest


def log_table_hash(frame: pd.DataFrame, role: str) -> str:
    """Log the hash of an in-memory table as parameter ``<role>.sha256``."""
    import mlflow

    digest = frame_hash(frame)
    mlflow.log_param(f"{role}.sha256", digest)
    return digest


def log_metrics(metrics: Mapping[str, float]) -> None:
    import mlflow

    mlflow.log_metrics({k: float(v) for k, v in metrics.items()})


def log_files(paths: Mapping[str, str | Path] | list[str | Path], artifact_path: str | None = None) -> None:
    """Log output files as run artifacts."""
    import mlflow

    for path in (paths.values() if isinstance(paths, Mapping) else paths):
        mlflow.log_artifact(str(path), artifact_path=artifact_path)


def log_frame(frame: pd.DataFrame, artifact_file: str) -> None:
    """Log a table as a CSV artifact."""
    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(artifact_file).name
        frame.to_csv(path, index=False)
        parent = str(Path(artifact_file).parent)
        mlflow.log_artifact(str(path), artifact_path=None if parent == "." else parent)


def active() -> bool:
    """Whether an MLflow run is active in this process."""
    import mlflow

    return mlflow.active_run() is not None


def lightning_logger(run_id: str | None = None, experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None):
    """Lightning's ``MLFlowLogger`` on :func:`tracking_uri` (logging into ``run_id`` when given,
    e.g. the run a command already started)."""
    from pytorch_lightning.loggers import MLFlowLogger

    quiet_mlflow()
    return MLFlowLogger(experiment_name=experiment, run_name=run_name, tracking_uri=tracking_uri(), run_id=run_id,
                        log_model=False)


def log_model_dir(name: str, directory: str | Path, model_type: str, tags: Mapping[str, str] | None = None) -> str:
    """Log a model directory (safetensors + JSON) as an MLflow *logged model* of the active run.

    The model can then be registered (``mlflow.register_model("models:/<model_id>", NAME)``) and
    loaded back from ``models:/<model_id>`` or ``models:/NAME/VERSION``; returns the model id.
    """
    import mlflow

    run = mlflow.active_run()
    model = mlflow.initialize_logged_model(name=name, source_run_id=run.info.run_id if run else None,
                                           model_type=model_type, tags=dict(tags or {}))
    try:
        mlflow.MlflowClient().log_model_artifacts(model.model_id, str(directory))
    except Exception:
        mlflow.finalize_logged_model(model.model_id, "FAILED")
        raise
    mlflow.finalize_logged_model(model.model_id, "READY")
    return model.model_id
