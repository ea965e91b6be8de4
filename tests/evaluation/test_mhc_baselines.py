"""Per-allele random forests on real HLA-A*02:01 binding data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molprior.metrics.classification import roc_auc
from molprior.data.mhc import ic50_to_score
from molprior.evaluation.mhc_baselines import PerAlleleForest

MHC = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"


@pytest.fixture(scope="module")
def a0201():
    """128 support and 1,000 query 9-mers with exact HLA-A*02:01 IC50s, shuffled with seed 0."""
    table = pd.read_csv(MHC)
    table = table[(table["allele"] == "HLA-A*02:01") & (table["peptide"].str.len() == 9)
                  & (table["measurement_inequality"] == "=")]
    table = table.iloc[np.random.default_rng(0).permutation(len(table))]
    return table.iloc[:128], table.iloc[128:1128]


# Measured on this split with 100 trees: blosum62 0.812, onehot 0.722 (500 trees: 0.826, 0.731).
# Seed 0 is the hardest of ten shuffles (means 0.837 and 0.778); chance is 0.5.
@pytest.mark.parametrize("scheme, bound", [("blosum62", 0.77), ("onehot", 0.68)])
def test_forest_ranks_binders(a0201, scheme, bound):
    support, query = a0201
    model = PerAlleleForest(scheme, n_estimators=100, seed=0)
    assert model.name == f"rf_{scheme}"
    predicted = model.fit(support["peptide"].tolist(), ic50_to_score(support["ic50"])).predict(query["peptide"].tolist())
    assert predicted.shape == (1000,) and ((predicted >= 0) & (predicted <= 1)).all()
    assert roc_auc(query["ic50"].to_numpy() < 500, predicted) > bound


def test_forest_is_seeded_and_checks_its_input(a0201):
    support, query = a0201
    peptides, scores = support["peptide"].tolist(), ic50_to_score(support["ic50"])
    first = PerAlleleForest("onehot", n_estimators=10, seed=3).fit(peptides, scores).predict(query["peptide"][:50].tolist())
    again = PerAlleleForest("onehot", n_estimators=10, seed=3).fit(peptides, scores).predict(query["peptide"][:50].tolist())
    np.testing.assert_array_equal(first, again)
    with pytest.raises(RuntimeError):
        PerAlleleForest().predict(peptides)
    with pytest.raises(ValueError):
        PerAlleleForest().fit(peptides, scores[:-1])
    with pytest.raises(ValueError):
        PerAlleleForest("tokens")
