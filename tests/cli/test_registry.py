"""molprior.cli.registry: ``molprior registry list|show|search|compare|promote`` against this
test's own sqlite store, on versions tagged as molprior registers them (lineage and the
benchmark metric promotions are judged on)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from molprior.cli.main import main
from molprior.tracking import registry
from molprior.tracking.runs import tracking_uri


def test_registry_promote_force_needs_a_reason(tmp_path, monkeypatch, capsys):
    from molprior.tracking import registry

    monkeypatch.chdir(tmp_path)
    client = registry.client()
    client.create_registered_model("forced")
    for score in ("0.3", "0.1"):
        client.create_model_version("forced", str(tmp_path), tags={registry.BENCHMARK_METRIC_TAG: "auprc",
                                                                   registry.METRIC_PREFIX + "auprc": score})
    assert main(["registry", "promote", "forced", "1"]) == 0
    capsys.readouterr()
    for reason in ([], ["--reason", ""], ["--reason", "  "]):
        assert main(["registry", "promote", "forced", "2", "--force", *reason]) == 2
        err = capsys.readouterr().err
        assert err.startswith("molprior registry promote: error: --force needs --reason") and "Traceback" not in err
    assert registry.aliases_of("forced") == {"champion": "1"}
    assert main(["registry", "promote", "forced", "2", "--force", "--reason", "assay re-measured"]) == 0
    assert registry.aliases_of("forced") == {"champion": "2"}
    assert registry.get_version("forced@champion").tags["molprior.promoted.champion.reason"] == "assay re-measured"


@pytest.fixture(scope="module")
def scored_store(tmp_path_factory) -> Path:
    """An sqlite store holding registered model ``scored``: version 1 (auprc 0.3, CHEMBL214_Ki,
    classification) holds @champion; version 2 (auprc 0.1, CHEMBL233_Ki, regression) does not.
    Built once: each test gets a copy (a new store takes seconds to create)."""
    import mlflow

    base = tmp_path_factory.mktemp("scored-store")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        client = registry.client()
        client.create_registered_model("scored", description="two test versions")
        for score, assay, task in (("0.3", "CHEMBL214_Ki", "classification"), ("0.1", "CHEMBL233_Ki", "regression")):
            client.create_model_version("scored", str(base), tags={
                registry.BENCHMARK_METRIC_TAG: "auprc", registry.METRIC_PREFIX + "auprc": score,
                "molprior.assays": assay, "molprior.targets": assay.split("_")[0], "molprior.task_type": task})
        registry.promote("scored", "1")
        mlflow.set_tracking_uri(None)  # no process-wide URI left behind: each test has its own store
    return base / "mlflow.db"


@pytest.fixture
def scored(scored_store, isolated_stores, tmp_path, monkeypatch):
    """This test's store: a copy of :func:`scored_store`; returns an MLflow client on it."""
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(scored_store, isolated_stores / "mlflow.db")
    return registry.client()


def test_list_on_an_empty_store_says_where_it_looked(capsys):
    assert main(["registry", "list"]) == 0
    assert capsys.readouterr().out == f"no registered models in {tracking_uri()}\n"


def test_list_shows_each_model_with_its_aliases_and_the_champions_metric(scored, capsys):
    assert main(["registry", "list"]) == 0
    out = capsys.readouterr().out
    assert tracking_uri() in out
    row = next(line for line in out.splitlines() if "scored" in line and "@champion" in line)
    cells = [cell.strip() for cell in row.split("│")[1:-1]]
    assert cells == ["scored", "2", "2", "@champion=1", "auprc = 0.3000 (v1)", "two test versions"]


def test_show_prints_a_versions_aliases_metrics_and_lineage(scored, capsys):
    assert main(["registry", "show", "scored@champion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("scored version 1  (aliases: @champion; READY; created ")
    metrics = lines.index("metrics:")
    assert lines[metrics + 1].split() == ["auprc", "0.3000"]
    lineage = {key: value.strip() for key, _, value in
               (line.strip().partition(" ") for line in lines[lines.index("lineage:") + 1:])}
    assert lineage["assays"] == "CHEMBL214_Ki" and lineage["benchmark_metric"] == "auprc"
    assert lineage["promoted.champion.reason"] == "first holder" and lineage["promoted.champion.previous"] == ""
    assert main(["registry", "show", "scored/2", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["name"] == "scored" and info["version"] == "2" and info["aliases"] == []
    assert info["metrics"] == {"auprc": 0.1} and info["lineage"]["task_type"] == "regression"


def test_a_model_or_version_that_is_not_there_is_the_users_error(scored, capsys):
    assert main(["registry", "show", "absent"]) == 2
    assert capsys.readouterr().err == ("molprior registry: error: no registered model named 'absent' "
                                       "(molprior registry list shows them)\n")
    assert main(["registry", "show", "scored/two"]) == 2
    assert "a version is a number (NAME/3)" in capsys.readouterr().err
    assert main(["registry", "show", "scored@staging"]) == 2
    assert capsys.readouterr().err.startswith("molprior registry: error: scored@staging: ")


def test_promote_refuses_a_worse_version_changes_nothing_twice_and_takes_a_better_one(scored, capsys):
    assert main(["registry", "promote", "scored", "2"]) == 2
    assert capsys.readouterr().err == ("molprior registry: error: refused: version 2 has auprc = 0.1000, not better "
                                       "than @champion (version 1, 0.3000); use --force --reason TEXT to promote it "
                                       "anyway\n")
    assert main(["registry", "promote", "scored", "1"]) == 0
    assert capsys.readouterr().out == "scored version 1 already holds @champion\n"
    scored.create_model_version("scored", "elsewhere", tags={registry.BENCHMARK_METRIC_TAG: "auprc",
                                                            registry.METRIC_PREFIX + "auprc": "0.5"})
    assert main(["registry", "promote", "scored", "3"]) == 0
    assert capsys.readouterr().out == "scored version 3 is now @champion (was version 1)\n"
    assert main(["registry", "promote", "scored", "2", "--alias", "staging"]) == 0  # no holder yet: nothing to beat
    assert registry.aliases_of("scored") == {"champion": "3", "staging": "2"}


def test_search_by_assay_target_task_type_text_and_tag(scored, capsys):
    def found(*args) -> list[str]:
        code = main(["registry", "search", *args])
        out = capsys.readouterr().out
        return [] if code == 1 else sorted({word for word in out.split() if word.startswith("scored/")})

    assert found("--assay", "chembl214_ki") == ["scored/1"]  # names are matched whatever their case
    assert found("--target", "CHEMBL233") == ["scored/2"]
    assert found("--task-type", "classification") == ["scored/1"]
    assert found("two test") == ["scored/1", "scored/2"]  # the model's description
    assert found("--tag", "molprior.task_type=regression") == ["scored/2"]
    assert found("--assay", "CHEMBL214_Ki", "--task-type", "regression") == []  # every criterion must hold
    assert main(["registry", "search", "--assay", "CHEMBL1_Ki"]) == 1
    assert capsys.readouterr().out == "no registered version matches\n"
    assert main(["registry", "search", "--tag", "molprior.task_type"]) == 2
    assert "--tag 'molprior.task_type': expected KEY=VALUE" in capsys.readouterr().err


def test_compare_takes_a_bare_version_as_one_of_the_first_model(scored, capsys):
    assert main(["registry", "compare", "scored@champion", "2"]) == 0
    out = capsys.readouterr().out
    assert "scored@champion vs scored/2" in out
    rows = {cells[0]: cells[1:] for cells in ([c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines())
            if cells}
    assert rows["model"] == ["scored/1", "scored/2", "*"]
    assert rows["metric auprc"] == ["0.3000", "0.1000", "*"]
    assert rows["benchmark_metric"] == ["auprc", "auprc", ""]
