"""The quickstart notebook runs end to end against a registered champion, and says to run
``make demo`` first when there is none."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"


def execute(monkeypatch, store: str, output: Path) -> nbformat.NotebookNode:
    """Run the notebook from the repository root; the kernel inherits this environment."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store)
    monkeypatch.setenv("MOLPRIOR_QUICKSTART_OUTPUT", str(output))
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # one torch thread in the kernel
        monkeypatch.setenv(name, "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(ROOT)}}).execute()
    return notebook


def outputs(notebook) -> list:
    return [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]


def test_committed_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    first = notebook.cells[0]
    assert first.cell_type == "markdown" and "make demo" in first.source
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.fixture(scope="module")
def champion_store(fewshot_models, tmp_path_factory) -> str:
    """A temporary MLflow store holding a tiny ``molprior-demo@champion``, as ``make demo`` leaves one."""
    from molprior.tracking.pyfunc import log_fewshot_pyfunc
    from molprior.tracking.registry import promote
    from molprior.tracking.runs import tracked_run

    meta_dir, adapted_dir = fewshot_models
    base = tmp_path_factory.mktemp("champion-store")
    store = f"sqlite:///{base / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.chdir(base)  # the experiment's artifacts go to base/mlartifacts
        with tracked_run("register"):
            info = log_fewshot_pyfunc(meta_dir, {"CHEMBL2047_EC50": adapted_dir},
                                      registered_model_name="molprior-demo")
        promote("molprior-demo", info.registered_model_version, "champion")
    return store


def test_quickstart_executes(champion_store, tmp_path, monkeypatch):
    output = tmp_path / "quickstart"
    notebook = execute(monkeypatch, champion_store, output)
    produced = outputs(notebook)
    assert not [o for o in produced if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in produced if o.output_type == "stream")

    # the champion was found and its packaged head scored the valid molecules, not the broken one
    assert "molprior-demo version 1 (@champion)" in text
    assert "heads: CHEMBL2047_EC50" in text
    assert "3 of 4 molecules scored" in text
    tables = [o["data"]["text/plain"] for o in produced if "text/plain" in o.get("data", {})]
    assert any("probability_active" in t and "support_similarity" in t for t in tables)

    # adapted to the held-out assay and scored every query molecule
    support = pd.read_csv(output / "support.csv")
    assert list(support.columns) == ["smiles", "CHEMBL4203_Ki"] and len(support) == 32
    assert (support["CHEMBL4203_Ki"] > support["CHEMBL4203_Ki"].median()).sum() == 16
    assert "adapted to 32 molecules of CHEMBL4203_Ki (16 actives)" in text
    scores = pd.read_csv(output / "query_scores.csv", keep_default_na=False)
    assert len(scores) == len(pd.read_csv(ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv")) - 32
    assert (scores["error"] == "").all()
    assert scores["probability_active"].between(0, 1).all()
    assert not set(scores["smiles"]) & set(support["smiles"])
    assert f"{len(scores)} of {len(scores)} molecules scored (0 errors)" in text

    # the comparison with the random forest, and the plot
    aucs = {name.strip(): float(auc) for name, auc in re.findall(r"^(.+?)\s+ROC-AUC = ([-\d.]+)", text, re.M)}
    assert set(aucs) == {"molprior (champion, adapted)", "random forest on ECFP4"}
    assert all(0 <= auc <= 1 for auc in aucs.values())
    assert re.search(r"ΔAUPRC = [-+]\d\.\d{3}", text)
    assert any("image/png" in o.get("data", {}) for o in produced if o.output_type == "display_data")
    assert (output / "quickstart.png").stat().st_size > 0


def test_quickstart_without_a_store_says_run_make_demo(tmp_path, monkeypatch):
    database = tmp_path / "mlflow.db"
    with pytest.raises(CellExecutionError) as error:
        execute(monkeypatch, f"sqlite:///{database}", tmp_path / "quickstart")
    assert "No molprior-demo@champion" in str(error.value) and "Run `make demo` first" in str(error.value)
    assert not database.exists()  # no empty store left behind
    assert not (tmp_path / "quickstart").exists()  # nothing built silently


def test_quickstart_without_a_champion_says_run_make_demo(champion_store, tmp_path, monkeypatch):
    """A store where molprior-demo exists but no version holds @champion (e.g. a refused promotion)."""
    from molprior.tracking.registry import aliases_of, client

    database = tmp_path / "mlflow.db"
    shutil.copy(champion_store[len("sqlite:///"):], database)  # already migrated: no schema set-up to wait for
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{database}")
    client().delete_registered_model_alias("molprior-demo", "champion")
    assert aliases_of("molprior-demo") == {}
    with pytest.raises(CellExecutionError) as error:
        execute(monkeypatch, f"sqlite:///{database}", tmp_path / "quickstart")
    assert "No molprior-demo@champion" in str(error.value) and "Run `make demo` first" in str(error.value)
    assert not (tmp_path / "quickstart").exists()
