"""The one scorer: heads by name over one shared representation, in fixed blocks."""

import numpy as np
import pytest
import torch

from molprior.meta.allele_learner import allele_learner
from molprior.meta.learner import Adapted
from molprior.meta.scorer import FeatureRows, Scorer, sets_head_only
from molprior.models.allele_model import AlleleModelConfig, PeptideFeatures

WIDTH = 12


@pytest.fixture(scope="module")
def scorer() -> Scorer:
    torch.manual_seed(0)
    learner = allele_learner(WIDTH, AlleleModelConfig(body_hidden=16, body_dim=8, head_hidden=8)).eval()
    model = learner.model
    heads = {}
    for name, shift in (("first", 0.0), ("second", 0.3)):
        heads[name] = Adapted({f"head.{n}": p.detach() + shift for n, p in model.head.named_parameters()})
    # a head with its own body: every body weight moved
    heads["own body"] = Adapted({**{f"body.{n}": p.detach() * 1.1 for n, p in model.body.named_parameters()},
                                 **{f"head.{n}": p.detach() for n, p in model.head.named_parameters()}})
    return Scorer(learner, heads)


@pytest.fixture(scope="module")
def features() -> torch.Tensor:
    return torch.randn(300, WIDTH, generator=torch.Generator().manual_seed(1))


def test_heads_are_known_by_name_and_by_what_they_set(scorer):
    assert scorer.names == ["first", "own body", "second"]
    assert sets_head_only(scorer.heads["first"]) and not sets_head_only(scorer.heads["own body"])


def test_a_head_on_the_shared_representation_scores_as_the_whole_model_does(scorer, features):
    shared = scorer.represent(FeatureRows(features))
    assert shared.shared is not None and shared.shared.shape == (300, 8)
    unshared = scorer.represent(FeatureRows(features), shared=False)
    assert unshared.shared is None
    for name in scorer.names:
        values, spread = scorer.outputs(shared, name)
        assert values.dtype == np.float64 and np.isnan(spread).all() and ((values > 0) & (values < 1)).all()
        np.testing.assert_array_equal(values, scorer.outputs(unshared, name)[0])
        expected = torch.sigmoid(torch.func.functional_call(scorer.learner.model, scorer.heads[name].params,
                                                            (PeptideFeatures(features),)))
        np.testing.assert_allclose(values, expected.detach().double().numpy(), rtol=1e-5, atol=1e-6)
    first, second, own = (scorer.outputs(shared, name)[0] for name in ("first", "second", "own body"))
    assert not np.allclose(first, second) and not np.allclose(first, own)


def test_a_rows_score_does_not_depend_on_the_others(scorer, features):
    representation = scorer.represent(FeatureRows(features))
    whole, own = (scorer.outputs(representation, name)[0] for name in ("second", "own body"))
    order = np.random.default_rng(2).permutation(len(features))
    for rows in (order, order[:7], np.array([5])):
        part = scorer.outputs(scorer.represent(FeatureRows(features[torch.from_numpy(rows)])), "second")[0]
        np.testing.assert_array_equal(part, whole[rows])  # fixed blocks: the same bits
    np.testing.assert_array_equal(scorer.outputs(representation[order[:7]], "own body")[0], own[order[:7]])


def test_without_inputs_only_heads_on_the_shared_representation_score(scorer, features):
    representation = scorer.represent(FeatureRows(features))
    shared_only = type(representation)(None, representation.shared)
    np.testing.assert_array_equal(scorer.outputs(shared_only, "first")[0], scorer.outputs(representation, "first")[0])
    with pytest.raises(ValueError, match="own body.*needs the inputs"):
        scorer.outputs(shared_only, "own body")


class BrokenRows(FeatureRows):
    """Inputs whose row ``bad`` breaks the forward pass (as a molecule that breaks a model)."""

    bad = 130

    def block(self, rows):
        if self.bad in rows:
            raise RuntimeError("row 130 breaks the model")
        return super().block(rows)

    def __getitem__(self, rows):
        return BrokenRows(self.x[rows])


def test_a_failing_row_gets_its_error_and_the_others_their_scores(scorer, features):
    representation = scorer.represent(FeatureRows(features), shared=False)
    broken = type(representation)(BrokenRows(features), None)
    with pytest.raises(RuntimeError, match="breaks the model"):
        scorer.outputs(broken, "first")
    errors: dict[int, str] = {}
    values, _ = scorer.outputs(broken, "first", errors)
    assert errors == {130: "scoring failed: RuntimeError: row 130 breaks the model"}
    good = np.arange(len(features)) != 130
    assert np.isnan(values[130])
    np.testing.assert_array_equal(values[good], scorer.outputs(representation, "first")[0][good])
