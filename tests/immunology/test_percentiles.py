"""Percentile ranks: a score's share of reference peptides of its length scored at least as well."""

import numpy as np
import pytest

from molprior.immunology.percentiles import QUANTILES, percentile_ranks, quantile_table

LENGTHS = (8, 10)


@pytest.fixture(scope="module")
def table() -> np.ndarray:
    """Reference scores: uniform on [0, 1] for 8-mers, on [0, 0.5] for 9-mers, on [0.5, 1] for 10-mers."""
    rng = np.random.default_rng(0)
    return quantile_table([rng.uniform(0, 1, 20_000), rng.uniform(0, 0.5, 20_000), rng.uniform(0.5, 1, 20_000)])


def test_one_row_of_quantiles_per_length(table):
    assert table.shape == (3, QUANTILES)
    assert (np.diff(table, axis=1) >= 0).all()


def test_ranks_read_the_reference_of_the_peptides_own_length(table):
    scores = np.array([0.5, 0.5, 0.5, 0.25, 0.75])
    ranks = percentile_ranks(table, LENGTHS, np.array([8, 9, 10, 9, 10]), scores)
    np.testing.assert_allclose(ranks, [50.0, 0.0, 100.0, 50.0, 50.0], atol=1.0)


def test_a_better_score_never_ranks_worse_and_extremes_are_clipped(table):
    scores = np.linspace(-0.5, 1.5, 101)
    ranks = percentile_ranks(table, LENGTHS, np.full(101, 8), scores)
    assert (np.diff(ranks) <= 0).all() and ranks[0] == 100.0 and ranks[-1] == 0.0


def test_lengths_outside_the_table_take_the_nearest_and_order_does_not_matter(table):
    lengths, scores = np.array([7, 8, 11, 10, 9]), np.array([0.3, 0.3, 0.8, 0.8, 0.2])
    ranks = percentile_ranks(table, LENGTHS, lengths, scores)
    np.testing.assert_array_equal(ranks[[0, 2]], ranks[[1, 3]])
    order = np.array([4, 2, 0, 3, 1])
    np.testing.assert_array_equal(percentile_ranks(table, LENGTHS, lengths[order], scores[order]), ranks[order])
