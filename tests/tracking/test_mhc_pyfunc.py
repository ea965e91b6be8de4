"""The registered MHC class I model (``molprior-mhc-i@champion``) as an MLflow pyfunc: loads by
URI, scores peptide/allele pairs with per-row errors, carries its lineage, verifies its files."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd
import pytest

from molprior.files import ChecksumError, file_hash
from molprior.serialization import load_predictor
from molprior.inference.mhc_scoring import COLUMNS, score_table

URI = "models:/molprior-mhc-i@champion"


@pytest.fixture(scope="module")
def champion(mhc_model, tmp_path_factory):
    """The champion loaded with ``mlflow.pyfunc``, its version and its downloaded files."""
    from molprior.tracking import registry

    uri = mhc_model[1]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mlflow.set_tracking_uri(uri)
        try:
            model = mlflow.pyfunc.load_model(URI)
            version = registry.get_version("molprior-mhc-i@champion")
            local = mlflow.artifacts.download_artifacts(URI, dst_path=str(tmp_path_factory.mktemp("champion")))
            run = mlflow.get_run(version.tags["molprior.train_run_id"])
        finally:
            mlflow.set_tracking_uri(None)
    return model, version, local, run


def test_the_champion_scores_peptides_with_per_row_errors(mhc_model, champion):
    model = champion[0]
    frame = pd.DataFrame({
        "peptide": ["NLVPMVATV", "GILGF*FTL", " slyntvatl ", "KLVALGINAV", "GILGFVF", "YLLPAIVHI"],
        "allele": ["HLA-A*02:01", "HLA-A*02:01", "HLA-A0201", "HLA-A*02:99", "B*07:02", "HLA-B*07:02"],
    })
    out = model.predict(frame)
    assert list(out.columns) == COLUMNS and len(out) == len(frame) and out["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out["error"][1] == "stop codon '*' at position 6"
    assert out["error"][3].startswith("unknown allele 'HLA-A*02:99'")
    assert "closest supported: HLA-A*02:01" in out["error"][3]
    assert out["error"][4] == "length 7 outside the supported range 8-15"
    good = [0, 2, 5]
    assert out.loc[good, "error"].isna().all() and out.loc[[1, 3, 4], "ic50_nm"].isna().all()
    assert out["peptide"][2] == "SLYNTVATL" and out["allele"][2] == "HLA-A*02:01"
    assert out["note"][2] == "whitespace removed; upper-cased"
    expected = score_table(load_predictor(mhc_model[0]), frame)  # the same numbers as the predictor's own
    np.testing.assert_allclose(out.loc[good, "ic50_nm"].astype(float), expected.loc[good, "ic50_nm"].astype(float),
                               rtol=1e-6)
    assert out.loc[good, "binder"].isin(["strong", "weak", "non-binder"]).all()
    assert out.loc[good, "percentile_rank"].between(0, 100).all()


def test_the_champion_carries_its_lineage(mhc_model, champion):
    _, version, local, run = champion
    tags = version.tags
    assert tags["molprior.task_type"] == "mhc-affinity" and tags["molprior.algorithm"] == "anil"
    assert tags["molprior.train_alleles"] == "HLA-A*02:01,HLA-A*03:01,HLA-B*07:02"
    assert tags["molprior.val_alleles"] == "HLA-A*02:02,HLA-A*26:02"
    assert tags["molprior.held_out_alleles"] == "HLA-B*35:01"
    assert tags["molprior.alleles"] == "HLA-A*02:01,HLA-A*02:02,HLA-A*03:01,HLA-A*26:02,HLA-B*07:02"
    predictor = load_predictor(mhc_model[0])
    assert tags["molprior.data_sha256.mhc"] == file_hash(predictor.metadata["data"])
    assert tags["molprior.prior_sha256"] == predictor.metadata["encoder"]["sha256"]
    best = predictor.metadata["metrics"]["best_val_roc_auc"]
    assert float(tags["molprior.metric.val_roc_auc"]) == pytest.approx(best, rel=1e-5)
    assert run.data.tags["molprior.stage"] == "mhc-train"
    assert run.data.params["mhc_data.sha256"] == tags["molprior.data_sha256.mhc"]
    packaged = load_predictor(f"{local}/artifacts/mhc")  # the packaged predictor is the trained one
    assert packaged.supported == predictor.supported
    np.testing.assert_array_equal(packaged.reference["HLA-A*02:01"], predictor.reference["HLA-A*02:01"])
    signature = mlflow.models.Model.load(f"{local}/MLmodel").signature
    assert signature.inputs.input_names() == ["peptide", "allele"]
    assert signature.outputs.input_names() == COLUMNS


def test_altered_packaged_weights_are_refused(champion, tmp_path):
    local = tmp_path / "model"
    shutil.copytree(champion[2], local)
    weights = local / "artifacts" / "mhc" / "alleles.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="alleles.safetensors"):
        mlflow.pyfunc.load_model(str(local))


def test_a_frame_without_an_allele_column_is_refused(champion):
    with pytest.raises(Exception, match="allele"):
        champion[0].predict(pd.DataFrame({"peptide": ["NLVPMVATV"]}))


def test_missing_and_odd_cells_are_their_rows_errors(champion):
    model = champion[0]
    frame = pd.DataFrame({"peptide": ["NLVPMVATV", None, "", "12345678", "SLYNTVATL", "GILGFVFTL"],
                          "allele": ["HLA-A*02:01", "HLA-A*02:01", "HLA-A*02:01", "HLA-A*02:01", None, "HLA-A*02:01"]})
    out = model.predict(frame)
    assert len(out) == len(frame) and out["row"].tolist() == [1, 2, 3, 4, 5, 6]
    assert out.loc[[0, 5], "error"].isna().all() and out.loc[[0, 5], "ic50_nm"].notna().all()
    assert out.loc[1:4, "error"].notna().all() and out.loc[1:4, "ic50_nm"].isna().all()
