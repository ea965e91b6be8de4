"""The trained MHC class I predictor: what it knows, its percentile ranks, its cached reference
body, and that the tiny model learned real binding (saving and loading: tests/serialization/test_mhc.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.immunology.amino_acids import random_peptides
from molprior.data.mhc import load_measurements, score_to_ic50
from molprior.metrics.classification import roc_auc
from molprior.files import file_hash
from molprior.immunology.percentiles import QUANTILES
from molprior.serialization import load_predictor

ROOT = Path(__file__).resolve().parents[2]
MHC_FILE = ROOT / "data" / "mhc" / "mhc_class1_human.csv.gz"
TRAINED = ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*03:01", "HLA-A*26:02", "HLA-B*07:02"]
EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]


@pytest.fixture(scope="module")
def predictor(mhc_model):
    return load_predictor(mhc_model[0])


def test_the_model_knows_its_training_alleles_and_where_it_came_from(mhc_model, predictor):
    assert predictor.supported == TRAINED and "HLA-B*35:01" not in predictor.scorer.heads
    assert predictor.lengths == (8, 15)
    meta = predictor.metadata
    assert meta["held_out"] == ["HLA-B*35:01"] and meta["val_alleles"] == ["HLA-A*02:02", "HLA-A*26:02"]
    assert meta["train_alleles"] == ["HLA-A*02:01", "HLA-A*03:01", "HLA-B*07:02"]
    assert meta["data_sha256"] == file_hash(meta["data"])
    prior = ROOT / "molprior" / "priors" / "default" / "encoder" / "encoder.safetensors"
    assert meta["encoder"]["sha256"] == file_hash(prior)
    assert meta["metrics"]["epochs_trained"] == 2 and meta["metrics"]["steps_trained"] == 10
    table = load_measurements(meta["data"]).table
    for allele in TRAINED:
        info = predictor.alleles[allele]
        rows = table[table["allele"] == allele]
        assert info["measurements"] == len(rows) and info["binders"] == int(np.nansum(rows["label"]))
        assert info["role"] == ("meta-validation" if allele in meta["val_alleles"] else "meta-train")
        # finetune_min = 200: every allele has its head and body adapter fine-tuned
        assert info["head"] == f"head and rank-8 body adapter fine-tuned on all {len(rows)} measurements (2 epochs)"
    assert sorted(predictor.adapters) == TRAINED
    history = json.loads((mhc_model[0].parent / "history.json").read_text())
    assert history[0]["epoch"] == -1 and [h["epoch"] for h in history[1:]] == [0, 1]


def test_predictions_are_consistent_and_independent_of_the_batch(predictor):
    body = predictor.body(EPITOPES, shared=True)
    assert len(body) == 5 and body.inputs.x.shape[0] == body.shared.shape[0] == 5
    parts = {"embedding": lambda b: b.inputs.x, "shared": lambda b: b.shared}
    for part in parts.values():
        torch.testing.assert_close(part(predictor.body(EPITOPES, batch_size=2, shared=True)), part(body),
                                   atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(part(predictor.body(EPITOPES[2:3], shared=True)), part(body[2:3]),
                                   atol=1e-5, rtol=1e-5)
    assert predictor.body(EPITOPES).shared is None  # every allele has its own body: none reads the shared one
    for allele in TRAINED:
        scores = predictor.scores_from_body(body, allele)
        assert scores.dtype == np.float64 and ((scores > 0) & (scores < 1)).all()
        ic50 = predictor.predict_ic50(EPITOPES, allele)
        np.testing.assert_allclose(ic50, score_to_ic50(scores), rtol=1e-6)
        assert ((ic50 >= 1) & (ic50 <= 50_000)).all()
    a0201, b0702 = (predictor.scores_from_body(body, a) for a in ("HLA-A*02:01", "HLA-B*07:02"))
    assert not np.allclose(a0201, b0702)  # each allele its own head


def test_a_body_adapter_is_the_alleles_own_body(mhc_model):
    """Scores of an allele with a body adapter come from its adapted body: zeroing the adapter's
    low-rank update and restoring the shared body's other parameters gives the shared body's
    scores, and dropping the adapter falls back to them."""
    from molprior.immunology.body_adapter import LORA_B

    predictor = load_predictor(mhc_model[0])
    body = predictor.body(EPITOPES)
    adapted = predictor.scores_from_body(body, "HLA-A*02:01")
    adapter = predictor.adapters["HLA-A*02:01"]
    assert set(adapter) >= {"1.lora_a", "1.lora_b", "1.bias", "4.weight"} and adapter["1.lora_a"].shape[0] == 8
    shared = {name: p.detach().clone() for name, p in predictor.learner.model.body.named_parameters()
              if name != "1.weight"}
    head = predictor.head("HLA-A*02:01")
    predictor.set_head("HLA-A*02:01", head, {**adapter, **shared, LORA_B: torch.zeros_like(adapter[LORA_B])})
    as_shared = predictor.scores_from_body(body, "HLA-A*02:01")
    predictor.set_head("HLA-A*02:01", head)
    assert "HLA-A*02:01" not in predictor.adapters
    np.testing.assert_allclose(predictor.scores_from_body(body, "HLA-A*02:01"), as_shared, rtol=1e-5)
    # read from the shared body's output or by running the body on the embeddings: the same scores
    np.testing.assert_array_equal(predictor.scores_from_body(predictor.body(EPITOPES, shared=True), "HLA-A*02:01"),
                                  predictor.scores_from_body(body, "HLA-A*02:01"))
    assert np.abs(adapted - as_shared).max() > 1e-4


def test_the_tiny_model_ranks_unseen_hla_a0201_binders_first(predictor):
    """300 exact HLA-A*02:01 measurements of peptides the model never saw (AUC 0.86 when written)."""
    table = pd.read_csv(MHC_FILE)
    seen = set(pd.read_csv(predictor.metadata["data"])["peptide"])
    unseen = table[(table["allele"] == "HLA-A*02:01") & (table["measurement_inequality"] == "=")
                   & table["peptide"].str.len().between(8, 15) & ~table["peptide"].isin(seen)].head(300)
    scores = predictor.scores_from_body(predictor.body(unseen["peptide"].tolist()), "HLA-A*02:01")
    assert roc_auc((unseen["ic50"] < 500).to_numpy(), scores) > 0.75


def test_reference_quantiles_and_percentiles(predictor):
    grid = np.linspace(0.0, 1.0, 401)
    for allele in TRAINED:
        table = predictor.reference[allele]
        assert table.shape == (8, QUANTILES)  # lengths 8-15
        assert (np.diff(table, axis=1) >= 0).all() and table.min() > 0 and table.max() < 1
        for length in (8, 9, 12, 15):
            ranks = predictor.percentile(allele, np.full(len(grid), length), grid)
            assert ((ranks >= 0) & (ranks <= 100)).all()
            assert (np.diff(ranks) <= 0).all()  # a higher score is a stronger binder: a lower rank
            assert ranks[0] == 100 and ranks[-1] == 0
        # lengths outside 8-15 use the nearest end's quantiles
        np.testing.assert_array_equal(predictor.percentile(allele, np.full(5, 16), grid[:5]),
                                      predictor.percentile(allele, np.full(5, 15), grid[:5]))


def test_the_reference_peptides_rank_uniformly(predictor):
    """The 200 random 8-mers the reference was made of (seed 0, the first length drawn) spread
    evenly over 0-100%."""
    peptides = random_peptides(200, 8, np.random.default_rng(0))
    scores = predictor.scores_from_body(predictor.body(peptides), "HLA-A*02:01")
    ranks = np.sort(predictor.percentile("HLA-A*02:01", np.full(200, 8), scores))
    np.testing.assert_allclose(ranks, np.linspace(0, 100, 200), atol=1.0)


def test_the_shared_reference_body_is_cached_per_model(mhc_model, tmp_path, monkeypatch):
    """The reference set's shared-body outputs are computed once per model (what
    ``molprior peptides adapt`` needs), equal to the uncached ones, and not reused for a model
    whose body differs."""
    predictor = load_predictor(mhc_model[0])
    full = predictor.reference_body(20, seed=3)
    first = predictor.shared_reference_body(20, seed=3, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.npz"))) == 1
    for length, body in first.items():
        assert body.inputs is None
        torch.testing.assert_close(body.shared, full[length].shared)

    def no_embedding(*args, **kwargs):
        raise AssertionError("the cached reference was embedded again")

    monkeypatch.setattr(predictor.peptide_encoder, "embed", no_embedding)
    again = predictor.shared_reference_body(20, seed=3, cache_dir=tmp_path)
    assert all(torch.equal(again[length].shared, first[length].shared) for length in first)
    with pytest.raises(ValueError, match="HLA-A\\*02:01 sets more than the head's weights"):
        predictor.scores_from_body(again[9], "HLA-A*02:01")
    with torch.no_grad():
        predictor.learner.model.body[4].bias.add_(0.1)  # another model: another cache entry
    with pytest.raises(AssertionError, match="embedded again"):
        predictor.shared_reference_body(20, seed=3, cache_dir=tmp_path)
