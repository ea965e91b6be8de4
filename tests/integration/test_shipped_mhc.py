"""The MHC class I model shipped in molprior/priors/mhc_i: complete, verified, and sane on
measurements it was trained on (a check that the shipped file is the trained model, not a
measure of accuracy: that is molprior benchmark mhc's job)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from molprior.data.mhc import binder_labels
from molprior.files import verify_manifest
from molprior.immunology.percentiles import QUANTILES
from molprior.serialization import load_predictor
from molprior.tracking.artifacts import SHIPPED_MHC, resolve_model_dir

DATA = "data/mhc/mhc_class1_human.csv.gz"


@pytest.fixture(scope="module")
def shipped():
    return load_predictor(resolve_model_dir(None, "mhc"))


def test_the_shipped_model_is_complete_and_verified(shipped):
    assert verify_manifest(SHIPPED_MHC, required=True)
    alleles = sorted(pd.read_csv(DATA)["allele"].unique())
    assert shipped.supported == alleles  # every allele of the embedded data
    for allele in alleles:
        assert shipped.reference[allele].shape == (8, QUANTILES)  # lengths 8-15
        assert shipped.alleles[allele]["measurements"] >= 90  # >= 100 rows, less the few outside 8-15 residues
    assert shipped.metadata["encoder"]["path"] == "molprior/priors/peptide/encoder"
    assert (SHIPPED_MHC / "MODEL_CARD.md").exists()


@pytest.mark.parametrize("allele", ["HLA-A*02:01", "HLA-B*07:02", "HLA-C*06:02"])
def test_the_shipped_model_ranks_its_training_measurements(shipped, allele):
    table = pd.read_csv(DATA)
    rows = table[(table["allele"] == allele) & table["peptide"].str.len().between(8, 15)].sample(300, random_state=0)
    labels = binder_labels(rows["ic50"].to_numpy(), rows["measurement_inequality"].to_numpy())
    known = ~np.isnan(labels)
    ic50 = shipped.predict_ic50(rows["peptide"].tolist(), allele)
    assert roc_auc_score(labels[known], -ic50[known]) > 0.85
