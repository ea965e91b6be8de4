"""Adapting the MHC model to an allele it never saw (HLA-B*35:01) from 16 to 128 real
measurements, and registering the result with its lineage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.files import file_hash
from molprior.immunology.percentiles import QUANTILES
from molprior.serialization import load_predictor
from molprior.meta.allele_learner import score_loss
from molprior.workflows.mhc_adapt import MIN_MEASUREMENTS, adapt_allele, run_adapt_allele

EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]


@pytest.fixture
def store(mhc_model, monkeypatch):
    """This test's MLflow store is the one the tiny model was registered in."""
    import mlflow

    uri = mhc_model[1]
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(None)


def _measurements(mhc_model, path, n: int, bad: bool = True, allele_column: bool = True):
    """``n`` real HLA-B*35:01 measurements, plus (``bad``) three unusable rows and two rows of
    another allele; returns the path."""
    held = pd.read_csv(mhc_model[2])
    frame = held.head(n)[["allele", "peptide", "ic50", "measurement_inequality"]].astype({"ic50": object})
    if bad:
        extra = held.iloc[n:n + 5][["allele", "peptide", "ic50", "measurement_inequality"]].astype({"ic50": object})
        extra.iloc[0, 1] = "SLYNXVATL"
        extra.iloc[1, 2] = "n/a"
        extra.iloc[2, 3] = "~"
        extra.iloc[3:, 0] = "HLA-A*02:01"  # another allele's rows are left out, not rejected
        frame = pd.concat([frame.iloc[:5], extra, frame.iloc[5:]])
    if not allele_column:
        frame = frame.drop(columns=["allele"])
    frame.to_csv(path, index=False)
    return path


def test_a_new_allele_from_16_measurements(mhc_model, tmp_path):
    base = load_predictor(mhc_model[0])
    before = {a: base.predict_ic50(EPITOPES, a) for a in base.supported}
    path = _measurements(mhc_model, tmp_path / "b3501.csv", 16)
    outcome = adapt_allele(load_predictor(mhc_model[0]), "HLA-B*35:01", path, tmp_path / "adapted")
    assert outcome.allele == "HLA-B*35:01" and outcome.measurements == 16 and not outcome.replaced
    assert outcome.rejected["line"].tolist() == [7, 8, 9]  # header is line 1; rows 6-8 of the data

    adapted = load_predictor(outcome.model_dir)  # checksums verified
    assert adapted.supported == sorted(base.supported + ["HLA-B*35:01"])
    for allele, ic50 in before.items():  # the other alleles are untouched
        np.testing.assert_allclose(adapted.predict_ic50(EPITOPES, allele), ic50, rtol=1e-6)
    info = adapted.alleles["HLA-B*35:01"]
    support = pd.read_csv(tmp_path / "adapted" / "support.csv")
    assert len(support) == 16 and set(support["allele"]) == {"HLA-B*35:01"}
    assert info["measurements"] == 16 and info["binders"] == int(np.nansum(support["label"])) == outcome.binders
    assert info["role"] == "adapted" and info["measurements_sha256"] == file_hash(path)
    rejected = pd.read_csv(tmp_path / "adapted" / "rejected.csv")
    assert rejected["line"].tolist() == [7, 8, 9] and "unknown residue X" in rejected["reason"][0]
    assert adapted.reference["HLA-B*35:01"].shape == (8, QUANTILES)

    # the head fits the support better than the meta-learned initial head it started from
    body = adapted.body(support["peptide"].tolist())
    targets = torch.tensor(support["score"].to_numpy(np.float32))
    loss = score_loss(torch.tensor(support["score_relation"].to_numpy(np.int64)))
    head = adapted.learner.model.head

    def support_loss(params):
        with torch.no_grad():
            return float(loss(torch.func.functional_call(head, params, (body.shared,)), targets))

    assert support_loss(adapted.head("HLA-B*35:01")) < support_loss(dict(head.named_parameters()))
    assert "HLA-B*35:01" not in adapted.adapters  # a few measurements adapt the head on the shared body
    scores = adapted.scores_from_body(adapted.body(EPITOPES), "HLA-B*35:01")
    ranks = adapted.percentile("HLA-B*35:01", np.array([len(p) for p in EPITOPES]), scores)
    assert ((ranks >= 0) & (ranks <= 100)).all()


def test_adapting_an_allele_the_model_has_replaces_its_head_and_body_adapter(mhc_model, tmp_path):
    """Re-adapting HLA-A*02:01 (fine-tuned with a body adapter in the base model) from 32 of its
    measurements: the new head reads the shared body, the other alleles keep theirs."""
    base = load_predictor(mhc_model[0])
    assert "HLA-A*02:01" in base.adapters
    table = pd.read_csv(mhc_model[0].parent.parent / "mhc.csv")
    path = tmp_path / "a0201.csv"
    table[table["allele"] == "HLA-A*02:01"].head(32).to_csv(path, index=False)
    outcome = adapt_allele(load_predictor(mhc_model[0]), "HLA-A*02:01", path, tmp_path / "adapted")
    assert outcome.replaced and outcome.measurements == 32
    adapted = load_predictor(outcome.model_dir)
    assert "HLA-A*02:01" not in adapted.adapters and sorted(adapted.adapters) == sorted(set(base.adapters) - {"HLA-A*02:01"})
    assert adapted.alleles["HLA-A*02:01"]["role"] == "adapted"
    np.testing.assert_array_equal(adapted.predict_ic50(EPITOPES, "HLA-B*07:02"), base.predict_ic50(EPITOPES, "HLA-B*07:02"))
    assert not np.allclose(adapted.predict_ic50(EPITOPES, "HLA-A*02:01"), base.predict_ic50(EPITOPES, "HLA-A*02:01"))


def test_fewer_than_16_usable_measurements_are_refused(mhc_model, tmp_path):
    path = _measurements(mhc_model, tmp_path / "b3501.csv", MIN_MEASUREMENTS - 1)
    with pytest.raises(ValueError, match=r"15 usable measurements for HLA-B\*35:01; adaptation needs at least 16 "
                                         r"\(3 rows rejected\)"):
        adapt_allele(load_predictor(mhc_model[0]), "B3501", path, tmp_path / "adapted")
    assert not (tmp_path / "adapted").exists()
    (tmp_path / "nocolumn.csv").write_text("peptide,affinity\nSLYNTVATL,50\n")
    with pytest.raises(ValueError, match="need columns peptide and ic50"):
        adapt_allele(load_predictor(mhc_model[0]), "HLA-B*35:01", tmp_path / "nocolumn.csv", tmp_path / "adapted")


def test_adapting_registers_a_new_version_with_its_lineage(mhc_model, store, tmp_path):
    from molprior.tracking import registry
    from molprior.tracking.artifacts import resolve_model_dir

    champion = registry.get_version("molprior-mhc-i@champion")
    path = _measurements(mhc_model, tmp_path / "b3501.csv", 128, bad=False, allele_column=False)
    outcome, version = run_adapt_allele("HLA-B*35:01", path, tmp_path / "adapted", "models:/molprior-mhc-i@champion")
    assert outcome.measurements == 128 and outcome.rejected.empty
    assert version.name == "molprior-mhc-i" and int(version.version) > int(champion.version)
    tags = registry.get_version(f"molprior-mhc-i/{version.version}").tags
    assert tags["molprior.adapted_allele"] == "HLA-B*35:01"
    assert tags["molprior.data_sha256.measurements"] == file_hash(path)
    assert tags["molprior.adapted_measurements"] == "128"
    assert tags["molprior.base_model"] == "models:/molprior-mhc-i@champion"
    assert "HLA-B*35:01" in tags["molprior.alleles"].split(",")
    assert registry.get_version("molprior-mhc-i@champion").version == champion.version  # not promoted
    registered = load_predictor(resolve_model_dir(f"models:/molprior-mhc-i/{version.version}", "mhc"))
    assert "HLA-B*35:01" in registered.supported and registered.alleles["HLA-B*35:01"]["measurements"] == 128
