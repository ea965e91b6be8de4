"""The packaged pyfunc model: loads by URI, scores with per-row errors, verifies its files,
needs no training code, and is served over HTTP by ``mlflow models serve``."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import mlflow
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException

from molprior.errors import InputError
from molprior.files import ChecksumError
from molprior.inference.assay_scoring import AssayScorer
from molprior.tracking import registry
from molprior.tracking.pyfunc import ScoringModel, log_fewshot_pyfunc, write_heads
from molprior.tracking.runs import tracked_run
from molprior.serialization import ModelFormatError
from _fewshot import MOLECULEACE_DIR, TEST
from _servers import MLFLOW, free_port, running

ASSAY = TEST[0]

#: Molecules that have failed a whole request: ferrocene, molsidomine, a hypervalent cation, unparseable,
#: and a carbon with 150 methyls (RDKit raises a pre-condition violation while checking it).
UNUSUAL = ["[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1", "CCOC(=O)[N-]c1c[n+](N2CCOCC2)no1", "[SbH6+3]", "C1CC", "C" + "(C)" * 150]


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
    assert list(out.columns) == ["smiles", "assay", "probability_active", "uncertainty", "support_similarity", "error"]
    assert len(out) == len(smiles) + 2 and (out["assay"] == ASSAY).all()
    assert "unparseable" in out.loc[3, "error"] and out.loc[4, "error"] and out.loc[[3, 4], "probability_active"].isna().all()
    good = out.drop(index=[3, 4])
    assert (good["error"] == "").all()
    expected = AssayScorer.load(adapted).score(smiles)["probability_active"].to_numpy()
    assert good["probability_active"].to_numpy() == pytest.approx(expected, abs=1e-6)
    other = model.predict(pd.DataFrame({"smiles": smiles[:2], "assay": [ASSAY, "CHEMBL1_Ki"]}))
    assert other.loc[0, "error"] == "" and "unknown assay 'CHEMBL1_Ki'" in other.loc[1, "error"]


def test_unusual_molecules_are_their_rows_errors(champion):
    """Molecules that have failed whole batches are scored or are their own rows' errors; the
    molecules beside them are scored as on their own."""
    _, adapted = champion
    model = mlflow.pyfunc.load_model("models:/pyfunc-test@champion")
    smiles = _molecules(3)
    mixed = [smiles[0], UNUSUAL[0], smiles[1], *UNUSUAL[1:], smiles[2]]
    out = model.predict(pd.DataFrame({"smiles": mixed}))
    assert out["smiles"].tolist() == mixed and (out["assay"] == ASSAY).all()  # every row in, one out, in order
    for error, score in zip(out["error"], out["probability_active"]):
        assert (error == "" and 0 <= score <= 1) or (error != "" and math.isnan(score))  # a score or a reason
    assert "unparseable" in out["error"][mixed.index("C1CC")]
    good = out["smiles"].isin(smiles)
    assert (out.loc[good, "error"] == "").all()
    expected = AssayScorer.load(adapted).score(smiles)["probability_active"].to_numpy()
    assert out.loc[good, "probability_active"].to_numpy() == pytest.approx(expected, abs=1e-6)


def test_a_batch_the_scorer_fails_on_is_scored_row_by_row(champion, monkeypatch, tmp_path):
    """Should the scorer raise for a whole batch, only the molecules it fails on get an error."""
    _, adapted = champion
    smiles = _molecules(9)
    guilty = {smiles[2], smiles[7]}
    score = AssayScorer.score
    calls = []

    def failing(self, batch, jobs=1):
        calls.append(len(batch))
        if guilty & set(batch):
            raise RuntimeError("featuriser crashed\n  on this molecule")
        return score(self, batch, jobs)

    monkeypatch.setattr(AssayScorer, "score", failing)
    model = ScoringModel(write_heads({ASSAY: adapted}, tmp_path / "heads"))
    out = model.score(pd.DataFrame({"smiles": smiles}))
    assert out["smiles"].tolist() == smiles
    errors = dict(zip(out["smiles"], out["error"]))
    assert all(errors[s] == "cannot score: featuriser crashed: on this molecule" for s in guilty)
    good = ~out["smiles"].isin(guilty)
    assert (out.loc[good, "error"] == "").all() and out.loc[~good, "probability_active"].isna().all()
    monkeypatch.setattr(AssayScorer, "score", score)
    expected = AssayScorer.load(adapted).score([s for s in smiles if s not in guilty])["probability_active"].to_numpy()
    assert out.loc[good, "probability_active"].to_numpy() == pytest.approx(expected, abs=1e-6)
    assert len(calls) < 2 * len(smiles)  # halves, not every molecule on its own


def test_a_request_without_smiles_is_a_clear_error(champion):
    model = mlflow.pyfunc.load_model("models:/pyfunc-test@champion")
    with pytest.raises(MlflowException, match="smiles") as caught:
        model.predict(pd.DataFrame({"smi": ["CCO"]}))
    assert "Traceback" not in caught.value.message


def test_a_corrupt_heads_index_names_the_file(champion, tmp_path):
    _, adapted = champion
    heads = write_heads({ASSAY: adapted}, tmp_path / "heads")
    (heads / "heads.json").write_text('{"default": "CHEMBL2047_EC50", "assays": {"CHEMBL2047_EC50": "head0"')
    with pytest.raises(ModelFormatError, match=re.escape(f"{heads / 'heads.json'}: corrupt JSON (")):
        ScoringModel(heads)
    (heads / "heads.json").write_text('{"assays": []}')
    with pytest.raises(ModelFormatError, match="not a heads index"):
        ScoringModel(heads)


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
        status, answer = _invoke(port, {"dataframe_split": {"columns": ["smiles"],
                                                            "data": [[s] for s in smiles] + [["C1CC"]]}})
        assert status == 200
        rows = answer["predictions"]
        assert len(rows) == 5
        assert all(r["error"] == "" and 0 <= r["probability_active"] <= 1 for r in rows[:4])
        score = rows[4]["probability_active"]  # MLflow's server writes a missing score as NaN
        assert "unparseable" in rows[4]["error"] and (score is None or math.isnan(score))

        # unusual molecules among good ones: a bad one is its own row's error, the others are scored
        mixed = [smiles[0], *UNUSUAL, smiles[1]]
        status, answer = _invoke(port, {"dataframe_split": {"columns": ["smiles"], "data": [[s] for s in mixed]}})
        assert status == 200 and "stack_trace" not in json.dumps(answer)
        rows = answer["predictions"]
        assert [r["smiles"] for r in rows] == mixed  # every row in, one row out, in order
        for row in rows:
            score = row["probability_active"]
            assert (row["error"] == "" and 0 <= score <= 1) or (row["error"] and (score is None or math.isnan(score)))
        assert "unparseable" in rows[mixed.index("C1CC")]["error"]
        assert [r["error"] for r in (rows[0], rows[-1])] == ["", ""]
        expected = AssayScorer.load(champion[1]).score([smiles[0], smiles[1]])["probability_active"].tolist()
        assert [rows[0]["probability_active"], rows[-1]["probability_active"]] == pytest.approx(expected, abs=1e-6)

        # a request malformed as a whole fails with a clear message, without the server's stack trace
        status, answer = _invoke(port, {"dataframe_split": {"columns": ["smi"], "data": [[smiles[0]]]}})
        assert status == 400 and "smiles" in answer["message"] and "stack_trace" not in answer


def _invoke(port: int, body: dict) -> tuple[int, dict]:
    """POST ``body`` to a served model: (HTTP status, decoded JSON answer)."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/invocations", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_kind_is_known_by_the_artifacts_and_a_bare_list_needs_a_list_column():
    from molprior.tracking.pyfunc import PACKAGED_KINDS, packaged_kind, request_frame

    assert packaged_kind({"fewshot": "a", "heads": "b"}) is PACKAGED_KINDS["fewshot"]
    assert packaged_kind({"mhc": "m"}) is PACKAGED_KINDS["mhc"]
    with pytest.raises(ModelFormatError, match="not a molprior packaged model"):
        packaged_kind({"weights": "w"})
    assert request_frame(["CCO", "CCN"], {"heads": "b"})["smiles"].tolist() == ["CCO", "CCN"]
    assert request_frame({"peptide": ["SIINFEKL"], "allele": ["H-2-Kb"]}, {"mhc": "m"}).shape == (1, 2)
    with pytest.raises(InputError, match="named columns"):
        request_frame(["SIINFEKL"], {"mhc": "m"})
