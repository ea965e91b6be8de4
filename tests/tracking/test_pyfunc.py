"""The packaged pyfunc model: loads by URI, scores with per-row errors, verifies its files,
needs no training code, and is served over HTTP by ``mlflow models serve``."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import urllib.request

import mlflow
import pandas as pd
import pytest

from molprior.files import ChecksumError
from molprior.inference.scorer import Scorer
from molprior.tracking import registry
from molprior.tracking.pyfunc import log_fewshot_pyfunc
from molprior.tracking.runs import tracked_run
from _fewshot import MOLECULEACE_DIR, TEST
from _servers import MLFLOW, free_port, running

ASSAY = TEST[0]


@pytest.fixture
def champion(fewshot_models):
    meta, adapted = fewshot_models
    with tracked_run("register"):
        info = log_fewshot_pyfunc(meta, {ASSAY: adapted}, registered_model_name="pyfunc-test")
    registry.promote("pyfunc-test", "1", "champion")
    return info, adapted


def _molecules(n=20):
    return pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(n).tolist()


def test_the_registered_model_scores_with_per_row_errors(champion):
    _, adapted = champion
    model = mlflow.pyfunc.load_model("models:/pyfunc-test@champion")
    smiles = _molecules()
    out = model.predict(pd.DataFrame({"smiles": smiles[:3] + ["C1CC", ""] + smiles[3:]}))
    assert list(out.columns) == ["smiles", "assay", "probability_active", "support_similarity", "error"]
    assert len(out) == len(smiles) + 2 and (out["assay"] == ASSAY).all()
    assert "unparseable" in out.loc[3, "error"] and out.loc[4, "error"] and out.loc[[3, 4], "probability_active"].isna().all()
    good = out.drop(index=[3, 4])
    assert (good["error"] == "").all()
    expected = Scorer.load(adapted).score(smiles)["probability_active"].to_numpy()
    assert good["probability_active"].to_numpy() == pytest.approx(expected, abs=1e-6)
    other = model.predict(pd.DataFrame({"smiles": smiles[:2], "assay": [ASSAY, "CHEMBL1_Ki"]}))
    assert other.loc[0, "error"] == "" and "unknown assay 'CHEMBL1_Ki'" in other.loc[1, "error"]


def test_signature_and_input_example(champion):
    info, _ = champion
    signature = info.signature
    assert signature.inputs.input_names() == ["smiles", "assay"]
    assert "error" in signature.outputs.input_names() and signature.params.params[0].name == "assay"
    local = mlflow.artifacts.download_artifacts(info.model_uri)
    example = json.loads(open(f"{local}/input_example.json").read())
    assert example["columns"] == ["smiles"] and len(example["data"]) == 3


def test_altered_weights_are_refused_before_loading(champion, tmp_path):
    info, _ = champion
    local = tmp_path / "model"
    shutil.copytree(mlflow.artifacts.download_artifacts(info.model_uri), local)
    weights = next(local.glob("artifacts/heads/*/model.safetensors"))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="model.safetensors"):
        mlflow.pyfunc.load_model(str(local))


def test_loading_needs_no_training_code(champion):
    info, _ = champion
    code = ("import sys, mlflow, pandas as pd; m = mlflow.pyfunc.load_model(sys.argv[1]); "
            "m.predict(pd.DataFrame({'smiles': ['CCO']})); "
            "print(sorted(n for n in ('pytorch_lightning', 'lightning', 'deepchem', 'molprior.training.metatrain_module') "
            "if n in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code, mlflow.artifacts.download_artifacts(info.model_uri)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_mlflow_models_predict_cli(champion, tmp_path):
    smiles = _molecules(5)
    pd.DataFrame({"smiles": smiles + ["not-a-smiles"]}).to_csv(tmp_path / "in.csv", index=False)
    result = subprocess.run([MLFLOW, "models", "predict", "-m", "models:/pyfunc-test@champion", "-i",
                             str(tmp_path / "in.csv"), "-t", "csv", "-o", str(tmp_path / "out.json"),
                             "--env-manager", "local"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((tmp_path / "out.json").read_text())["predictions"]
    assert len(rows) == 6 and all(r["error"] == "" for r in rows[:5]) and rows[5]["error"]


def test_mlflow_models_serve_scores_over_http(champion, tmp_path):
    port = free_port()
    command = [MLFLOW, "models", "serve", "-m", "models:/pyfunc-test@champion", "--env-manager", "local",
               "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    with running(command, f"http://127.0.0.1:{port}/ping", tmp_path / "serve.log"):
        smiles = _molecules(4)
        body = {"dataframe_split": {"columns": ["smiles"], "data": [[s] for s in smiles] + [["C1CC"]]}}
        request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=120) as response:
            rows = json.loads(response.read())["predictions"]
    assert len(rows) == 5
    assert all(r["error"] == "" and 0 <= r["probability_active"] <= 1 for r in rows[:4])
    score = rows[4]["probability_active"]  # MLflow's server writes a missing score as NaN
    assert "unparseable" in rows[4]["error"] and (score is None or math.isnan(score))
