"""Registry look-ups and promotion: against the local sqlite store here; the same commands
against a real ``mlflow server`` in tests/integration/test_tracking_server.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import mlflow
import pytest

from molprior.cli.main import main
from molprior.tracking import registry
from molprior.tracking.lineage import lineage_tags
from molprior.tracking.pyfunc import log_fewshot_pyfunc
from molprior.tracking.runs import tracked_run
from _fewshot import TEST


def register_versions(fewshot_models, name: str, scores: list[float]) -> list[str]:
    """Register the tiny model once, then further versions of the same package, each tagged
    with its own benchmark score; returns the version numbers."""
    meta, adapted = fewshot_models
    with tracked_run("register"):
        info = log_fewshot_pyfunc(meta, {TEST[0]: adapted})
    client = mlflow.MlflowClient()
    versions = []
    for score in scores:
        tags = lineage_tags(heads=TEST, train_assays=["CHEMBL233_Ki"], metrics={"maml_pretrained.delta_auprc.k16": score},
                            benchmark_metric="maml_pretrained.delta_auprc.k16")
        if not versions:
            version = registry.register(info.model_uri, name, tags, description="tiny test model")
        else:  # another version of the same package (registry.register would return the first)
            version = client.create_model_version(name, info.model_uri, tags=tags, model_id=info.model_id)
        versions.append(str(version.version))
    return versions


def test_register_is_idempotent(fewshot_models):
    meta, adapted = fewshot_models
    with tracked_run("register"):
        info = log_fewshot_pyfunc(meta, {TEST[0]: adapted})
    first = registry.register(info.model_uri, "idem", {"molprior.task_type": "classification"})
    again = registry.register(info.model_uri, "idem", {"molprior.task_type": "classification"})
    assert str(first.version) == str(again.version) == "1"
    assert len(mlflow.MlflowClient().search_model_versions("name = 'idem'")) == 1


def test_promote_refuses_a_worse_version_unless_forced(fewshot_models):
    v1, v2, v3 = register_versions(fewshot_models, "promo", [0.20, 0.15, 0.25])
    assert registry.promote("promo", v1).changed
    with pytest.raises(registry.RegistryError, match="not better"):
        registry.promote("promo", v2)
    assert registry.aliases_of("promo") == {"champion": v1}
    again = registry.promote("promo", v1)  # idempotent
    assert not again.changed and "already holds" in again.message
    assert registry.promote("promo", v3).previous == v1
    forced = registry.promote("promo", v2, force=True, reason="rollback after an assay audit")
    assert forced.changed and registry.aliases_of("promo") == {"champion": v2}
    tags = registry.get_version("promo@champion").tags
    assert tags["molprior.promoted.champion.reason"] == "rollback after an assay audit"
    assert tags["molprior.promoted.champion.forced"] == "true" and tags["molprior.promoted.champion.previous"] == v3


def test_concurrent_promotions_leave_one_consistent_champion(fewshot_models):
    scores = [0.11, 0.31, 0.17, 0.29, 0.23, 0.13, 0.19, 0.27]
    versions = register_versions(fewshot_models, "race", scores)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [subprocess.Popen([sys.executable, "-m", "molprior", "-q", "registry", "promote", "race", v],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for v in versions]
    results = [(p.wait(timeout=300), p.stdout.read(), p.stderr.read()) for p in processes]
    assert all(code in (0, 2) for code, _, _ in results), results
    assert all("not better" in err for code, _, err in results if code == 2), results
    best = versions[scores.index(max(scores))]
    assert registry.aliases_of("race") == {"champion": best}
    holder = registry.get_version("race@champion")
    assert holder.tags["molprior.promoted.champion.forced"] == "false"
    previous = holder.tags["molprior.promoted.champion.previous"]
    if previous:  # the chain of holders only ever improved
        assert scores[versions.index(previous)] < max(scores)


def test_lookups_through_the_command_line(fewshot_models, capsys):
    v1, v2 = register_versions(fewshot_models, "looks", [0.20, 0.24])
    assert main(["registry", "promote", "looks", v1]) == 0
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert "looks" in out and "@champion=1" in out and "0.2000" in out
    assert main(["registry", "show", "looks@champion"]) == 0
    out = capsys.readouterr().out
    assert "looks version 1" in out and "train_assays" in out and "CHEMBL233_Ki" in out
    assert main(["registry", "search", "--target", "CHEMBL2047"]) == 0
    assert "looks/1" in capsys.readouterr().out
    assert main(["registry", "search", "--assay", "CHEMBL999_Ki"]) == 1
    capsys.readouterr()
    assert main(["registry", "search", "tiny test", "--task-type", "classification"]) == 0
    assert "looks/1" in capsys.readouterr().out
    assert main(["registry", "compare", "looks/1", "2"]) == 0
    out = capsys.readouterr().out
    assert "0.2000" in out and "0.2400" in out and "*" in out
    assert main(["registry", "promote", "looks", v2]) == 0
    assert "now @champion (was version 1)" in capsys.readouterr().out
    assert main(["registry", "show", "nope@champion"]) == 2
    assert "nope" in capsys.readouterr().err


def test_every_spelling_of_a_store_takes_the_same_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "link").symlink_to(tmp_path)
    same = [f"sqlite:///{tmp_path / 'mlflow.db'}", "sqlite:///mlflow.db", "sqlite:///./mlflow.db",
            "sqlite:///sub/../mlflow.db", f"sqlite:///{tmp_path / 'link' / 'mlflow.db'}", "sqlite:///mlflow.db?timeout=5"]
    assert same[0].startswith("sqlite:////")
    locks = {registry.lock_file("race", uri) for uri in same}
    assert len(locks) == 1 and next(iter(locks)).parent == tmp_path.resolve()  # beside the database
    assert registry.lock_file("race", "sqlite:///other.db") not in locks
    assert registry.lock_file("other-model", "sqlite:///mlflow.db") not in locks
    servers = ["http://mlflow.example.org", "http://MLflow.Example.org:80/", "http://user:secret@mlflow.example.org:80"]
    assert len({registry.lock_file("race", uri) for uri in servers}) == 1
    assert registry.lock_file("race", "https://mlflow.example.org") != registry.lock_file("race", servers[0])
    assert registry.lock_file("race", "http://mlflow.example.org:5000") != registry.lock_file("race", servers[0])
    stores = [f"file://{tmp_path / 'mlruns'}", "./mlruns", "mlruns", str(tmp_path / "link" / "mlruns")]
    assert len({registry.store_identity(uri) for uri in stores}) == 1


PROMOTE = """
import sys, time
from pathlib import Path

import mlflow
from molprior.tracking import registry

name, version, delay, ready, go = sys.argv[1:]
read_holder = mlflow.MlflowClient.get_model_version_by_alias

def slow_read_holder(self, *args, **kwargs):  # widens the window between reading the holder and moving the alias
    try:
        return read_holder(self, *args, **kwargs)
    finally:
        time.sleep(float(delay))

mlflow.MlflowClient.get_model_version_by_alias = slow_read_holder
registry.client()  # connected before the start
Path(ready).touch()
while not Path(go).exists():
    time.sleep(0.01)
try:
    print(registry.promote(name, version).message)
except registry.RegistryError as error:
    print(error, file=sys.stderr)
    sys.exit(2)
"""


def test_concurrent_promotions_through_differently_spelled_uris(tmp_path, monkeypatch):
    """Three processes promote at the same instant through three spellings of one store; the
    worse a version, the longer its process takes between reading the holder and moving the
    alias, so that without one lock for the store the worst version would end as champion."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    client = registry.client()
    client.create_registered_model("spelled")
    (tmp_path / "model").mkdir()
    scores = {"0.30": 0.2, "0.20": 0.8, "0.10": 1.4}  # score -> seconds between the read and the write
    versions = {}
    for score in scores:
        tags = {registry.BENCHMARK_METRIC_TAG: "delta_auprc", registry.METRIC_PREFIX + "delta_auprc": score}
        versions[score] = client.create_model_version("spelled", str(tmp_path / "model"), tags=tags).version
    spellings = [f"sqlite:///{tmp_path / 'mlflow.db'}", "sqlite:///mlflow.db", "sqlite:///./mlflow.db"]
    go = tmp_path / "go"
    processes = []
    for i, (uri, (score, delay)) in enumerate(zip(spellings, scores.items())):
        env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "OMP_NUM_THREADS": "1"}
        processes.append(subprocess.Popen(
            [sys.executable, "-c", PROMOTE, "spelled", str(versions[score]), str(delay), str(tmp_path / f"ready{i}"),
             str(go)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"ready{i}").exists() for i in range(3)):
        assert time.monotonic() < deadline and all(p.poll() is None for p in processes), \
            [p.communicate() for p in processes if p.poll() is not None]
        time.sleep(0.02)
    go.touch()
    results = [(p.wait(timeout=120), *p.communicate()) for p in processes]
    assert all(code in (0, 2) for code, _, _ in results), results
    assert all("not better" in err for code, _, err in results if code == 2), results
    assert registry.aliases_of("spelled") == {"champion": str(versions["0.30"])}, results
