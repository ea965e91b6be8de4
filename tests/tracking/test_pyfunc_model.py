"""The pyfunc entry point of every packaged molprior model (molprior.tracking.pyfunc_model): it
loads the scorer of the model's kind from its artifacts (the shipped MHC model; the shipped
few-shot model adapted to a real assay), scores one output row per input row with the request's
parameters, fails a request malformed as a whole with a one-line MLflow error and no chained
traceback, and is loaded by MLflow from code, never unpickled."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.exceptions import MlflowException
from mlflow.pyfunc import PythonModelContext

from _fewshot import MOLECULEACE_DIR, TEST, support_file
from molprior.inference.assay_scoring import AssayScorer
from molprior.inference.mhc_scoring import score_table
from molprior.serialization import ModelFormatError, load_predictor
from molprior.tracking.artifacts import SHIPPED_MHC
from molprior.tracking.pyfunc import MODEL_CODE, write_heads
from molprior.tracking.pyfunc_model import MolpriorPyfunc

ASSAY = TEST[0]
#: Real epitopes and alleles, with a stop codon, an unknown allele and a peptide too short.
PEPTIDES = pd.DataFrame({"peptide": ["NLVPMVATV", "GILGFVFTL", "GILGF*FTL", "SLYNTVATL", "KLVALGINAV", "GILGFVF"],
                         "allele": ["HLA-A*02:01", "HLA-A*02:01", "HLA-A*02:01", "HLA-A*02:99", "HLA-B*07:02",
                                    "HLA-A*02:01"]})


def _loaded(artifacts: dict[str, str]) -> MolpriorPyfunc:
    """The entry point as MLflow runs it: constructed, then given the model's artifacts."""
    model = MolpriorPyfunc()
    model.load_context(PythonModelContext(artifacts=artifacts, model_config={}))
    return model


@pytest.fixture(scope="module")
def mhc_pyfunc() -> MolpriorPyfunc:
    return _loaded({"mhc": str(SHIPPED_MHC)})


@pytest.fixture(scope="module")
def adapted_dir(tmp_path_factory) -> Path:
    """The shipped few-shot model adapted to 32 real molecules of CHEMBL2047_EC50."""
    from molprior.workflows.adapt import run_adapt

    base = tmp_path_factory.mktemp("adapted")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        outcome = run_adapt(None, support_file(base / "support.csv", ASSAY, n=32), base / "adapted")
        mlflow.set_tracking_uri(None)
    return outcome.model_dir


@pytest.fixture(scope="module")
def fewshot_pyfunc(adapted_dir, tmp_path_factory) -> MolpriorPyfunc:
    heads = write_heads({ASSAY: adapted_dir}, tmp_path_factory.mktemp("packaged") / "heads")
    return _loaded({"heads": str(heads)})


def test_an_mhc_model_scores_one_row_per_input_row_as_its_predictor_does(mhc_pyfunc):
    out = mhc_pyfunc.predict(None, PEPTIDES)
    pd.testing.assert_frame_equal(out, score_table(load_predictor(SHIPPED_MHC), PEPTIDES))
    assert out["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out.loc[[0, 1, 4], "error"].isna().all() and out.loc[[2, 3, 5], "error"].notna().all()


def test_a_fewshot_model_scores_a_list_of_smiles_with_the_requests_assay(fewshot_pyfunc, adapted_dir):
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(12).tolist()
    out = fewshot_pyfunc.predict(None, smiles)  # a bare list is the smiles column
    assert out["smiles"].tolist() == smiles and (out["assay"] == ASSAY).all() and (out["error"] == "").all()
    expected = AssayScorer.load(adapted_dir).score(smiles)["probability_active"].to_numpy()
    np.testing.assert_array_equal(out["probability_active"].to_numpy(), expected)
    other = fewshot_pyfunc.predict(None, smiles[:3], params={"assay": "CHEMBL1_Ki"})
    assert other["error"].str.startswith("unknown assay 'CHEMBL1_Ki'").all()
    assert other["probability_active"].isna().all()


def test_a_request_malformed_as_a_whole_is_a_one_line_mlflow_error(fewshot_pyfunc, mhc_pyfunc):
    """A served model answers 400 with the message, not a stack trace of the server's code."""
    cases = [(fewshot_pyfunc, pd.DataFrame({"smi": ["CCO"]}), "invalid request: the input needs a 'smiles' column; "
                                                              "it has ['smi']"),
             (mhc_pyfunc, ["NLVPMVATV"], "invalid request: this model scores a table with named columns, not a bare list")]
    for model, request, message in cases:
        with pytest.raises(MlflowException) as caught:
            model.predict(None, request)
        assert caught.value.message == message
        assert caught.value.get_http_status_code() == 400
        assert caught.value.__cause__ is None and caught.value.__suppress_context__  # raised `from None`


def test_artifacts_of_no_known_kind_are_refused(tmp_path):
    with pytest.raises(ModelFormatError, match=r"not a molprior packaged model: its artifacts are \['weights'\]"):
        _loaded({"weights": str(tmp_path)})


def test_mlflow_loads_the_packaged_model_from_this_code_not_from_a_pickle(tmp_path, monkeypatch):
    from molprior.tracking.mhc_pyfunc import log_mhc_pyfunc
    from molprior.tracking.runs import tracked_run

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    with tracked_run("register"):
        info = log_mhc_pyfunc(SHIPPED_MHC)
    local = Path(mlflow.artifacts.download_artifacts(info.model_uri, dst_path=str(tmp_path / "download")))
    assert (local / "pyfunc_model.py").read_text() == MODEL_CODE.read_text()
    assert mlflow.models.Model.load(str(local)).flavors["python_function"]["loader_module"] == \
        "mlflow.pyfunc.loaders.code_model"
    assert not list(local.rglob("*.pkl"))  # no pickled Python model anywhere in the package
    loaded = mlflow.pyfunc.load_model(str(local))
    assert type(loaded.unwrap_python_model()).__name__ == "MolpriorPyfunc"
    pd.testing.assert_frame_equal(loaded.predict(PEPTIDES), score_table(load_predictor(SHIPPED_MHC), PEPTIDES))
