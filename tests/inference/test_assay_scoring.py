"""A model adapted to an assay scoring lists of SMILES: standardised as training did, every input a
row in order, a bad one its reason, a molecule's score its own whatever else is scored with it."""

import numpy as np
import pandas as pd
import pytest

from _fewshot import MOLECULEACE_DIR
from molprior.data import leakage
from molprior.inference.assay_scoring import AssayScorer, RecentScores, UNCERTAINTY
from molprior.serialization import ModelFormatError


def test_a_molecule_scores_the_same_alone_as_in_a_library(fewshot_models):
    _, adapted = fewshot_models
    scorer = AssayScorer.load(adapted)
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(300).tolist()
    together = scorer.score(smiles)["probability_active"].to_numpy()
    for i in (0, 1, 77, 128, 297):
        alone = scorer.score([smiles[i]])["probability_active"].to_numpy()
        assert alone[0] == together[i], smiles[i]
        few = scorer.score(smiles[i:i + 3])["probability_active"].to_numpy()
        assert (few == together[i:i + 3]).all(), smiles[i:i + 3]


def test_every_input_is_a_row_in_order_with_its_reason_when_it_has_no_score(fewshot_models):
    _, adapted = fewshot_models
    scorer = AssayScorer.load(adapted)
    aspirin = "CC(=O)Oc1ccccc1C(=O)O"
    out = scorer.score([aspirin, "C1CC", None, "OC(=O)c1ccccc1OC(C)=O", "  "])
    assert list(out.columns) == ["smiles", *scorer.output_columns, "seen"] == [
        "smiles", "probability_active", UNCERTAINTY, "support_similarity", "error", "seen"]
    assert out["smiles"].tolist() == [aspirin, "", "", aspirin, ""]  # the other spelling standardised
    assert out["error"][0] == out["error"][3] == "" and all(out["error"][i] for i in (1, 2, 4))
    assert out["probability_active"][0] == out["probability_active"][3] and np.isnan(out["probability_active"][1])
    assert 0 <= out["support_similarity"][0] <= 1 and scorer.assay


def test_scores_do_not_depend_on_workers_or_on_what_the_run_scored_before(fewshot_models):
    _, adapted = fewshot_models
    scorer = AssayScorer.load(adapted)
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(2500).tolist() + ["C1CC", "CCO"]
    alone = scorer.score(smiles)
    recent = RecentScores(limit=1000)
    with scorer.workers(2) as workers:
        first = scorer.score(smiles[:1200], workers=workers, recent=recent)
        again = scorer.score(smiles[::-1], workers=workers, recent=recent)  # half of it remembered
    pd.testing.assert_frame_equal(first, alone.iloc[:1200])
    pd.testing.assert_frame_equal(again, alone.iloc[::-1].reset_index(drop=True))
    assert len(recent) == 1000


def test_seen_marks_the_molecules_the_model_was_meta_trained_on(fewshot_models):
    meta, adapted = fewshot_models
    scorer = AssayScorer.load(adapted)
    assert scorer.seen is not None and scorer.seen_skeletons is not None
    trained = pd.read_csv(MOLECULEACE_DIR / "CHEMBL233_Ki.csv")["smiles"].head(40).tolist()  # a training assay
    new = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(40).tolist()
    out = scorer.score(trained + new)
    expected = leakage.seen_mask(out["smiles"].tolist(), scorer.seen)  # InChI for every molecule, no prefilter
    assert out["seen"].tolist() == expected.tolist()
    assert out["seen"][:40].all() and 0 < out["seen"].sum() < 80


def test_a_meta_trained_model_is_not_an_adapted_one(fewshot_models):
    meta, _ = fewshot_models
    with pytest.raises(ModelFormatError, match="not one adapted to an assay"):
        AssayScorer.load(meta)
