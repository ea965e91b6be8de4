"""The MLflow model registry as molprior uses it: register, look up, search, compare, promote.

Every registered version carries lineage and headline metrics as version tags
(``molprior.*``); :data:`BENCHMARK_METRIC_TAG` names the metric promotions are judged on.
The functions work against any tracking URI (local sqlite or a remote ``mlflow server``) and
are idempotent: registering the same logged model twice gives the same version, promoting
the version that already holds an alias changes nothing.
"""

from __future__ import annotations

import hashlib
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

from molprior.errors import InputError
from molprior.tracking.runs import tracking_uri

PREFIX = "molprior."
METRIC_PREFIX = "molprior.metric."
BENCHMARK_METRIC_TAG = "molprior.benchmark_metric"
DEFAULT_ALIAS = "champion"


class RegistryError(InputError):
    """A registry request that cannot be carried out (unknown model, refused promotion...)."""


def client():
    import mlflow

    from molprior.tracking.runs import quiet_mlflow, check_tracking_server

    quiet_mlflow()
    check_tracking_server()
    mlflow.set_tracking_uri(tracking_uri())
    return mlflow.MlflowClient()


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """``NAME``, ``NAME@ALIAS`` or ``NAME/VERSION`` (also with a ``models:/`` prefix) ->
    (name, alias, version)."""
    text = spec[len("models:/"):] if spec.startswith("models:/") else spec
    if "@" in text:
        name, alias = text.split("@", 1)
        return name, alias, None
    if "/" in text:
        name, version = text.rsplit("/", 1)
        if not version.isdigit():
            raise RegistryError(f"{spec!r}: a version is a number (NAME/3)")
        return name, None, version
    return text, None, None


def get_version(spec: str):
    """The model version ``spec`` names (``NAME`` alone: its newest version)."""
    from mlflow.exceptions import MlflowException

    name, alias, version = parse_spec(spec)
    mlflow_client = client()
    try:
        if alias:
            return mlflow_client.get_model_version_by_alias(name, alias)
        if version:
            return mlflow_client.get_model_version(name, version)
        versions = _versions(mlflow_client, name)
    except MlflowException as error:
        raise RegistryError(f"{spec}: {_message(error)}") from None
    if not versions:
        raise RegistryError(f"no registered model named {name!r} (molprior registry list shows them)")
    return max(versions, key=lambda v: int(v.version))


def _versions(mlflow_client, name: str) -> list:
    """Every version of registered model ``name``."""
    return mlflow_client.search_model_versions(f"name = '{_quote(name)}'", max_results=1000)


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _message(error: Exception) -> str:
    return getattr(error, "message", None) or str(error)


def register(model_uri: str, name: str, tags: Mapping[str, Any] | None = None, description: str | None = None):
    """Register ``model_uri`` as a version of ``name`` with ``tags``; a model already
    registered under ``name`` (same source) gets its tags updated, not a new version."""
    import mlflow
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    try:
        mlflow_client.create_registered_model(name, description=description)
    except MlflowException as error:
        if "RESOURCE_ALREADY_EXISTS" not in str(error.error_code) and "already exists" not in _message(error):
            raise
    existing = [v for v in _versions(mlflow_client, name)
                if v.source == model_uri or (model_uri.startswith("models:/m-") and v.model_id == model_uri[8:])]
    version = existing[0] if existing else mlflow.register_model(model_uri, name, tags={k: str(v) for k, v in (tags or {}).items()})
    for key, value in (tags or {}).items():
        mlflow_client.set_model_version_tag(name, version.version, key, str(value))
    if description:
        mlflow_client.update_model_version(name, version.version, description=description)
    return mlflow_client.get_model_version(name, version.version)


def benchmark_metric(version) -> tuple[str, float] | None:
    """(metric name, value) that promotions of ``version`` are judged on, if it has one."""
    metric = version.tags.get(BENCHMARK_METRIC_TAG)
    value = version.tags.get(METRIC_PREFIX + metric) if metric else None
    return (metric, float(value)) if value not in (None, "") else None


@dataclass
class Promotion:
    name: str
    alias: str
    version: str
    previous: str | None
    changed: bool
    message: str


def store_identity(uri: str) -> str:
    """The store a tracking URI names, the same however the URI spells it: a sqlite database
    or a file store by the resolved absolute path of its file or directory (relative paths
    are from the working directory; symbolic links followed), a server by its scheme, host
    (lower-cased, without credentials), port (defaults made explicit) and path."""
    from urllib.parse import unquote, urlsplit

    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):].split("?", 1)[0]  # sqlite:///rel/x.db, sqlite:////abs/x.db
        return uri if path in ("", ":memory:") else "sqlite:" + os.path.realpath(unquote(path))
    parts = urlsplit(uri)
    if parts.scheme == "file" or len(parts.scheme) <= 1:  # file: URI, a path (or a Windows drive letter)
        path = unquote(parts.path) if parts.scheme == "file" else uri
        return "file:" + os.path.realpath(path)
    if not parts.netloc:
        return uri  # databricks, an in-memory sqlite...: nothing to normalise
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        return uri
    port = port or {"http": 80, "https": 443}.get(scheme)
    host = (parts.hostname or "").lower()
    return f"{scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def lock_file(name: str, uri: str | None = None) -> Path:
    """The lock file that serialises promotions of ``name`` in the store of ``uri`` (default:
    the tracking URI) on this machine: beside the sqlite file of a local store, in the molprior
    cache otherwise; named after the store (:func:`store_identity`), not the URI's spelling."""
    uri = uri or tracking_uri()
    store = store_identity(uri)
    if store.startswith("sqlite:/"):
        directory = Path(store[len("sqlite:"):]).parent
    else:
        directory = Path(os.environ.get("MOLPRIOR_CACHE_DIR") or Path.home() / ".cache" / "molprior") / "locks"
    key = hashlib.sha256(f"{store}\n{name}".encode()).hexdigest()[:16]
    return directory / f".molprior-registry-{key}.lock"


@contextmanager
def _registry_lock(name: str) -> Iterator[None]:
    """Serialise promotions of ``name`` on this machine (:func:`lock_file`)."""
    from filelock import FileLock

    path = lock_file(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path), timeout=120):
        yield


def promote(name: str, version: str, alias: str = DEFAULT_ALIAS, force: bool = False,
            reason: str | None = None) -> Promotion:
    """Point ``alias`` at ``version`` if it beats the current holder on its benchmark metric
    (higher is better), or with ``force``; the decision and ``reason`` are recorded as tags
    on the version.  Re-promoting the holder changes nothing."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    with _registry_lock(name):
        candidate = get_version(f"{name}/{version}")
        try:
            holder = mlflow_client.get_model_version_by_alias(name, alias)
        except MlflowException:
            holder = None
        if holder is not None and str(holder.version) == str(candidate.version):
            return Promotion(name, alias, str(candidate.version), str(holder.version), False,
                             f"{name} version {candidate.version} already holds @{alias}")
        ours = benchmark_metric(candidate)
        if holder is not None and not force:
            theirs = benchmark_metric(holder)
            if ours is None:
                raise RegistryError(f"{name} version {candidate.version} has no benchmark metric to compare with "
                                    f"@{alias} (version {holder.version}); use --force to promote it anyway")
            if theirs is not None and theirs[0] != ours[0]:
                raise RegistryError(f"version {candidate.version} is measured by {ours[0]}, the holder of @{alias} "
                                    f"(version {holder.version}) by {theirs[0]}: not comparable; use --force")
            if theirs is not None and ours[1] <= theirs[1]:
                raise RegistryError(f"refused: version {candidate.version} has {ours[0]} = {ours[1]:.4f}, not better "
                                    f"than @{alias} (version {holder.version}, {theirs[1]:.4f}); use --force "
                                    "--reason TEXT to promote it anyway")
        mlflow_client.set_registered_model_alias(name, alias, candidate.version)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        why = reason or ("forced" if force else "beats the holder on its benchmark metric" if holder
                         else "first holder")
        for key, value in {"reason": why, "at": stamp, "previous": holder.version if holder else "",
                           "forced": str(bool(force)).lower()}.items():
            mlflow_client.set_model_version_tag(name, candidate.version, f"{PREFIX}promoted.{alias}.{key}", value)
        return Promotion(name, alias, str(candidate.version), str(holder.version) if holder else None, True,
                         f"{name} version {candidate.version} is now @{alias}"
                         + (f" (was version {holder.version})" if holder else ""))


def aliases_of(name: str) -> dict[str, str]:
    """alias -> version of registered model ``name``."""
    return {alias: str(version) for alias, version in client().get_registered_model(name).aliases.items()}


def list_models() -> list[dict[str, Any]]:
    """Each registered model: name, newest version, aliases, and the benchmark metric of the
    champion (else of the newest version)."""
    mlflow_client = client()
    rows = []
    for model in mlflow_client.search_registered_models(max_results=1000):
        versions = _versions(mlflow_client, model.name)
        newest = max(versions, key=lambda v: int(v.version)) if versions else None
        aliases = dict(model.aliases)
        shown = next((v for v in versions if str(v.version) == str(aliases.get(DEFAULT_ALIAS))), newest)
        metric = benchmark_metric(shown) if shown else None
        rows.append({"name": model.name, "versions": len(versions), "latest": newest.version if newest else "",
                     "aliases": ", ".join(f"@{a}={v}" for a, v in sorted(aliases.items())),
                     "metric": f"{metric[0]} = {metric[1]:.4f} (v{shown.version})" if metric else "",
                     "description": model.description or ""})
    return rows


def describe(version) -> dict[str, Any]:
    """A version's identity, aliases, lineage tags and metrics (tags plus its run's metrics)."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    aliases = [a for a, v in aliases_of(version.name).items() if str(v) == str(version.version)]
    tags = dict(version.tags)
    metrics = {k[len(METRIC_PREFIX):]: float(v) for k, v in tags.items() if k.startswith(METRIC_PREFIX)}
    run_metrics: dict[str, float] = {}
    if version.run_id:
        try:
            run_metrics = dict(mlflow_client.get_run(version.run_id).data.metrics)
        except MlflowException:
            pass
    return {"name": version.name, "version": str(version.version), "aliases": aliases, "run_id": version.run_id or "",
            "source": version.source, "status": version.status, "description": version.description or "",
            "created": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(version.creation_timestamp / 1000)),
            "lineage": {k[len(PREFIX):]: v for k, v in sorted(tags.items())
                        if k.startswith(PREFIX) and not k.startswith(METRIC_PREFIX)},
            "metrics": metrics, "run_metrics": run_metrics}


def search(assay: str | None = None, target: str | None = None, task_type: str | None = None,
           text: str | None = None, tags: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Registered versions matching every criterion given: an assay the model scores or was
    trained on, a target (e.g. ``CHEMBL214``), the task type, free text (in the name,
    description or any tag value), or exact ``tags``."""
    mlflow_client = client()
    found = []
    for model in mlflow_client.search_registered_models(max_results=1000):
        for version in _versions(mlflow_client, model.name):
            t = version.tags
            assays = _words(t.get(PREFIX + "assays")) | _words(t.get(PREFIX + "train_assays"))
            if assay and assay.lower() not in {a.lower() for a in assays}:
                continue
            if target and target.lower() not in {x.lower() for x in _words(t.get(PREFIX + "targets"))}:
                continue
            if task_type and t.get(PREFIX + "task_type", "").lower() != task_type.lower():
                continue
            if tags and any(t.get(k) != v for k, v in tags.items()):
                continue
            haystack = " ".join([model.name, model.description or "", version.description or "", *t.values()]).lower()
            if text and text.lower() not in haystack:
                continue
            metric = benchmark_metric(version)
            found.append({"model": f"{model.name}/{version.version}",
                          "aliases": ", ".join(f"@{a}" for a, v in model.aliases.items() if str(v) == str(version.version)),
                          "task_type": t.get(PREFIX + "task_type", ""), "assays": t.get(PREFIX + "assays", ""),
                          "metric": f"{metric[0]} = {metric[1]:.4f}" if metric else ""})
    return found


def _words(value: str | None) -> set[str]:
    return {w.strip() for w in (value or "").split(",") if w.strip()}


def compare(first: str, second: str) -> list[tuple[str, str, str]]:
    """Two versions side by side: (field, first, second) for identity, metrics and lineage."""
    a, b = describe(get_version(first)), describe(get_version(second))
    rows = [("model", f"{a['name']}/{a['version']}", f"{b['name']}/{b['version']}"),
            ("aliases", ", ".join(a["aliases"]), ", ".join(b["aliases"])),
            ("created", a["created"], b["created"]), ("run_id", a["run_id"], b["run_id"])]
    for key in sorted(set(a["metrics"]) | set(b["metrics"])):
        rows.append((f"metric {key}", _fmt(a["metrics"].get(key)), _fmt(b["metrics"].get(key))))
    for key in sorted(set(a["lineage"]) | set(b["lineage"])):
        rows.append((key, a["lineage"].get(key, ""), b["lineage"].get(key, "")))
    return rows


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
