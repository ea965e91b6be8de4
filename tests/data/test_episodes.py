import numpy as np
import pytest

from molprior.data.episodes import can_sample, fewshot_episodes, stratified_episode


def test_stratified_support_and_disjoint_query():
    labels = np.array([1] * 20 + [0] * 30 + [np.nan] * 5)
    episode = stratified_episode(labels, 8, 8, np.random.default_rng(0))
    assert (labels[episode.support] == 1).sum() == 8
    assert (labels[episode.support] == 0).sum() == 8
    assert not set(episode.support) & set(episode.query)
    assert len(episode.support) + len(episode.query) == 50  # NaN labels take part in neither
    assert not np.isnan(labels[episode.query]).any()


def test_episodes_are_reproducible_and_vary_between_draws():
    labels = np.array([1, 0] * 40, dtype=float)
    first = fewshot_episodes(labels, 16, 3, seed=7)
    again = fewshot_episodes(labels, 16, 3, seed=7)
    assert all(np.array_equal(a.support, b.support) for a, b in zip(first, again))
    assert not np.array_equal(first[0].support, first[1].support)


def test_too_few_of_a_class():
    labels = np.array([1] * 8 + [0] * 40, dtype=float)
    assert not can_sample(labels, 8, 8)  # no active would be left for the query
    with pytest.raises(ValueError, match="actives"):
        stratified_episode(labels, 8, 8, np.random.default_rng(0))


def test_training_episode_balances_a_capped_query():
    from molprior.data.episodes import training_episode

    labels = np.array([1] * 100 + [0] * 300, dtype=float)
    episode = training_episode(labels, 16, 32, np.random.default_rng(0))
    assert (labels[episode.support] == 1).sum() == 8 and len(episode.query) == 32
    assert (labels[episode.query] == 1).sum() == 16
    assert not set(episode.support) & set(episode.query)
    small = training_episode(np.array([1] * 10 + [0] * 10, dtype=float), 16, 32, np.random.default_rng(0))
    assert len(small.query) == 4  # every molecule left
