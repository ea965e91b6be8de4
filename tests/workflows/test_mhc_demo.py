"""The immunology part of ``molprior demo``: HLA-B*57:01 (never seen by the model) adapted from
64 real measurements, the other measured peptides scored against a six-allele genotype."""

from __future__ import annotations

import shutil

import mlflow
import numpy as np
import pandas as pd

from molprior.tracking import artifacts
from molprior.workflows import mhc_demo


def test_peptide_demo_adapts_scores_and_checks_against_measurements(mhc_model, tmp_path, monkeypatch):
    model_dir, uri, _ = mhc_model
    shipped = tmp_path / "shipped"
    shutil.copytree(model_dir, shipped)
    monkeypatch.setattr(artifacts, "SHIPPED_MHC", shipped)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    try:
        outcome = mhc_demo.run_peptide_demo(tmp_path / "out", support_size=64)
    finally:
        mlflow.set_tracking_uri(None)
    measured = pd.read_csv(mhc_demo.NEW_ALLELE_DATA)
    scores = pd.read_csv(outcome.scores)
    assert outcome.support == 64
    assert outcome.query_peptides == measured["peptide"].nunique() - 64
    assert len(scores) == outcome.query_peptides * len(mhc_demo.GENOTYPE)
    new = scores[scores["allele"] == mhc_demo.NEW_ALLELE]
    assert new["score"].notna().sum() == new["peptide"].notna().sum() > 2000  # the new allele is scored
    # the tiny test model knows few of the genotype's alleles: the rest are per-row errors, not a crash
    unknown = scores[(scores["allele"] == "HLA-C*06:02") & scores["peptide"].notna()]  # valid peptides
    assert unknown["error"].str.contains("unknown allele 'HLA-C\\*06:02'; closest supported").all()
    assert 0.0 <= outcome.roc_auc <= 1.0 and 0.5 < outcome.rf_roc_auc <= 1.0
    assert outcome.registered and outcome.registered.startswith("molprior-mhc-i version")
    assert np.isfinite(outcome.peptides_per_s) and outcome.peptides_per_s > 0
