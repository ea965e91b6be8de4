"""MLflow runs for every command that computes something.

The tracking URI is ``$MLFLOW_TRACKING_URI`` when set, otherwise ``sqlite:///mlflow.db`` in
the working directory (MLflow's file store under ``./mlruns`` is deprecated).  Pass the
same URI to Lightning's ``MLFlowLogger`` (:func:`tracking_uri`).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping

import pandas as pd

from molprior import __version__
from molprior.errors import UserError
from molprior.files import file_hash, frame_hash, write_text

log = logging.getLogger(__name__)

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
DEFAULT_EXPERIMENT = "molprior"


def tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db`` (relative to the working directory)."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


class TrackingServerError(UserError, RuntimeError):
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
    ``run_id`` when given, e.g. a resumed training); yield it.

    The run is tagged with the process that owns it (:func:`owner_tags`).  Before a top-level
    run starts, runs that an ended process on this machine left RUNNING (killed with ``kill
    -9``, a crash, a lost session) are marked KILLED (:func:`mark_abandoned_runs`); continuing
    a run that is still alive in another process is refused (:class:`RunInUseError`)."""
    import mlflow

    quiet_mlflow()
    if not nested:
        check_tracking_server()
    mlflow.set_tracking_uri(tracking_uri())
    if not nested:
        ensure_experiment(experiment)
        mark_abandoned_runs()
    all_tags = {"molprior.version": __version__, "molprior.command": name, **owner_tags(), **(tags or {})}
    if run_id is not None:
        params = None  # already logged by the run being continued (MLflow refuses to change them)
        _take_over(run_id)
    with mlflow.start_run(run_id=run_id, run_name=None if run_id else name, nested=nested,
                          tags=None if run_id else all_tags) as run:
        if params:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
        yield run


#: The tags naming the process that owns a run: its machine, its pid, and its start time
#: (which tells the run's process from a later one the system gave the same pid).
HOST_TAG, PID_TAG, PID_START_TAG = "molprior.host", "molprior.pid", "molprior.pid_start"
ABANDONED_TAG = "molprior.abandoned"


class RunInUseError(UserError, RuntimeError):
    """The run to continue is still running in another live process."""


def owner_tags() -> dict[str, str]:
    """The tags naming this process as a run's owner."""
    pid = os.getpid()
    tags = {HOST_TAG: socket.gethostname(), PID_TAG: str(pid)}
    stat = _process_stat(pid)
    if stat is not None:
        tags[PID_START_TAG] = stat[1]
    return tags


def _process_stat(pid: int) -> tuple[str, str] | None:
    """(state, start time in clock ticks after boot) of process ``pid``, from ``/proc``; ``None``
    without ``/proc`` (not Linux) or without such a process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[-1].split()  # after the command name, which may hold anything
    return (fields[0], fields[19]) if len(fields) > 19 else None


def owner_alive(tags: Mapping[str, str]) -> bool | None:
    """Whether the process that ``tags`` (a run's) name as the run's owner is still running;
    ``None`` when that cannot be told from here: no owner recorded, or another machine's."""
    host, pid = tags.get(HOST_TAG), tags.get(PID_TAG, "")
    if not host or not pid.isdigit() or int(pid) <= 0 or host != socket.gethostname() or os.name == "nt":
        return None  # (on Windows os.kill would end the process, not probe it)
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    except OSError:
        return None
    stat = _process_stat(int(pid))
    if stat is not None:
        if stat[0] in ("Z", "X"):  # ended, not yet reaped by its parent
            return False
        if tags.get(PID_START_TAG) and stat[1] != tags[PID_START_TAG]:
            return False  # the pid belongs to a later process now
    return True


def mark_abandoned_runs() -> list[str]:
    """Mark KILLED every run that a molprior process on this machine started and left RUNNING
    when it ended (``kill -9``, a crash, a closed session); return their ids.  Runs of live
    processes, of other machines, and runs without an owner are left as they are."""
    import mlflow

    host = socket.gethostname()
    if "'" in host:  # not expressible in a search filter (and not a valid host name)
        return []
    found = mlflow.search_runs(search_all_experiments=True, output_format="list",
                               filter_string=f"attributes.status = 'RUNNING' and tags.`{HOST_TAG}` = '{host}'")
    client = mlflow.MlflowClient()
    marked = []
    for run in found:
        if owner_alive(run.data.tags) is not False:
            continue
        run_id, pid = run.info.run_id, run.data.tags.get(PID_TAG)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        client.set_tag(run_id, ABANDONED_TAG, f"process {pid} on {host} ended without closing the run; "
                                              f"marked KILLED at {stamp} by process {os.getpid()}")
        client.set_terminated(run_id, "KILLED")
        log.warning("MLflow run %s (%s) was left RUNNING by process %s, which has ended: "
                                            "marked KILLED", run_id, run.info.run_name, pid)
        marked.append(run_id)
    return marked


def continuable(run_id: str) -> bool:
    """Whether run ``run_id`` is in the tracking store (not deleted) for this process to
    continue; raises :class:`RunInUseError` when another live process on this machine still
    runs it."""
    import mlflow
    from mlflow.exceptions import MlflowException

    check_tracking_server()
    mlflow.set_tracking_uri(tracking_uri())
    try:
        run = mlflow.MlflowClient().get_run(run_id)
    except MlflowException:
        return False
    if run.info.lifecycle_stage == "deleted":
        return False
    if run.info.status == "RUNNING":
        tags = run.data.tags
        alive = owner_alive(tags)
        if alive and tags.get(PID_TAG) != str(os.getpid()):
            raise RunInUseError(f"MLflow run {run_id} is still running in process {tags.get(PID_TAG)} on this machine; "
                                "wait for it to end or stop it first")
    return True


def _take_over(run_id: str) -> None:
    """Before continuing run ``run_id``: refuse when it is alive in another process, else make
    this process its owner (a run marked abandoned is no longer)."""
    import mlflow

    if not continuable(run_id):
        return  # mlflow.start_run says what is wrong with it
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    if run.info.status == "RUNNING" and owner_alive(run.data.tags) is None and run.data.tags.get(HOST_TAG):
        log.warning(
            "MLflow run %s is RUNNING in process %s on %s, which cannot be checked from here: continuing it in this "
            "process", run_id, run.data.tags.get(PID_TAG), run.data.tags[HOST_TAG])
    for key, value in owner_tags().items():
        client.set_tag(run_id, key, value)
    if ABANDONED_TAG in run.data.tags:
        client.delete_tag(run_id, ABANDONED_TAG)


#: The file in a training's output directory naming the MLflow run it logs into (for --resume).
RUN_FILE = "mlflow_run.json"


def recorded_run(directory: str | Path) -> str | None:
    """The MLflow run id the last training in ``directory`` recorded, if any."""
    try:
        return json.loads((Path(directory) / RUN_FILE).read_text())["run_id"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def record_run(directory: str | Path, run_id: str) -> None:
    """Note in ``directory`` that its training logs into ``run_id``."""
    write_text(json.dumps({"run_id": run_id}) + "\n", Path(directory) / RUN_FILE)


def resumable_run(directory: str | Path, checkpoint: Path | None) -> str | None:
    """The run a resumed training in ``directory`` continues: the recorded one when there is
    a checkpoint to resume from and the run is still in this tracking store, else ``None``
    (a new run).  Raises :class:`RunInUseError` when the recorded run is alive in another
    process, fresh run or not: nothing is cleared or continued under a live training."""
    previous = recorded_run(directory)
    if previous is None:
        return None
    known = continuable(previous)
    if checkpoint is None:
        return None
    if not known:
        log.warning("the MLflow run %s recorded in %s is not in %s (or was deleted): continuing from %s in a new run",
                    previous, Path(directory) / RUN_FILE, tracking_uri(), checkpoint.name)
        return None
    return previous


def sqlite_artifact_root(uri: str) -> Path | None:
    """Where the experiments of a local sqlite store keep their artifacts: ``mlartifacts``
    beside the database file (``./mlartifacts`` for the default ``sqlite:///mlflow.db``), so a
    store and its artifacts stay together whatever the working directory; ``None`` for other
    stores."""
    if not uri.startswith("sqlite:///"):
        return None
    database = uri[len("sqlite:///"):].split("?", 1)[0]
    if database in ("", ":memory:"):
        return Path.cwd().resolve() / "mlartifacts"
    return Path(database).resolve().parent / "mlartifacts"


def ensure_experiment(name: str) -> None:
    """Select experiment ``name``, creating it if needed.  With a local sqlite store its
    artifacts go to ``mlartifacts`` beside the database (:func:`sqlite_artifact_root`, as
    ``mlflow server`` keeps ``./mlartifacts``), not the legacy ``./mlruns``."""
    import mlflow

    if mlflow.get_experiment_by_name(name) is None:
        root = sqlite_artifact_root(tracking_uri())
        location = root.as_uri() if root is not None else None
        try:
            mlflow.create_experiment(name, artifact_location=location)
        except mlflow.exceptions.MlflowException:
            pass  # created concurrently by another process
    mlflow.set_experiment(name)


def config_params(config: Any, prefix: str = "") -> dict[str, Any]:
    """A run's parameters from its typed configuration: every setting that is set, nested ones
    as ``learner.maml.inner_steps``."""
    from dataclasses import asdict, is_dataclass

    params = {}
    for key, value in (asdict(config) if is_dataclass(config) else config).items():
        if isinstance(value, dict):
            params.update(config_params(value, f"{prefix}{key}."))
        elif value is not None and value != []:
            params[f"{prefix}{key}"] = value
    return params


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


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters resolved while running (lists joined with commas)."""
    import mlflow

    mlflow.log_params({k: _param(v) for k, v in params.items()})


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
    e.g. the run a command already started).  Lightning ends the logger's run when ``fit``
    returns; a run given by ``run_id`` is left RUNNING instead, for the command that started it
    to end once its outputs are logged (a process killed while exporting leaves a RUNNING run,
    which :func:`mark_abandoned_runs` marks KILLED, not a FINISHED one without its model)."""
    from pytorch_lightning.loggers import MLFlowLogger

    from molprior.tracking.run_logger import CommandRunLogger

    quiet_mlflow()
    return (MLFlowLogger if run_id is None else CommandRunLogger)(
        experiment_name=experiment, run_name=run_name, tracking_uri=tracking_uri(), run_id=run_id, log_model=False)


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
