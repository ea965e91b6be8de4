import numpy as np
import pytest

from molprior.data.episodes import can_sample, draw_episodes, fewshot_episodes, fsmol_episode, stratified_episode
from molprior.data.tasks import FewShotTask


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


def _fsmol_reference_split(labels: np.ndarray, support_size: int, seed: int) -> tuple[list[int], list[int]]:
    """FS-Mol's ``StratifiedTaskSampler.sample`` step by step (fs_mol/data/fsmol_task_sampler.py):
    ``pos, neg = partition(is_active, samples)``, where ``more_itertools.partition`` yields the
    inactive molecules first; ``samples = neg + pos``; splitter labels 0 for ``neg``, 1 for ``pos``."""
    from sklearn.model_selection import StratifiedShuffleSplit

    items = list(range(len(labels)))
    pos = [i for i in items if not labels[i]]  # partition's first group: the predicate is false
    neg = [i for i in items if labels[i]]
    samples = neg + pos
    split_labels = np.concatenate((np.zeros(len(neg)), np.ones(len(pos))))
    splitter = StratifiedShuffleSplit(n_splits=1, train_size=support_size, test_size=len(samples) - support_size,
                                      random_state=seed)
    train, test = next(iter(splitter.split(X=np.arange(len(samples)), y=split_labels)))
    return [samples[i] for i in train], [samples[i] for i in test]


@pytest.fixture(scope="module")
def fsmol_test_task() -> np.ndarray:
    from pathlib import Path

    from molprior.data.fsmol import read_task_files

    tasks = read_task_files(Path(__file__).parent / "fsmol_original")
    return tasks.loc[tasks["assay"] == "CHEMBL1066254", "label"].to_numpy()


@pytest.mark.parametrize("support_size", [16, 32, 64, 128])
def test_fsmol_episode_gives_fsmols_indices(fsmol_test_task, support_size):
    labels = fsmol_test_task
    for draw in range(10):
        episode = fsmol_episode(labels, support_size, draw)
        support, query = _fsmol_reference_split(labels, support_size, draw)
        assert episode.support.tolist() == support and episode.query.tolist() == query
        assert sorted(episode.support.tolist() + episode.query.tolist()) == list(range(len(labels)))
        # the class ratio is kept: the support's actives are the task's share, rounded
        assert abs(labels[episode.support].sum() - support_size * labels.mean()) <= 1


def test_fsmol_draws_differ_and_repeat(fsmol_test_task):
    first = [fsmol_episode(fsmol_test_task, 16, d).support.tolist() for d in range(3)]
    assert first[0] != first[1] != first[2]
    assert first == [fsmol_episode(fsmol_test_task, 16, d).support.tolist() for d in range(3)]


def test_fsmol_skips_what_fsmol_skips():
    labels = np.array([1.0] * 10 + [0.0] * 10)
    assert fsmol_episode(labels, 19, 0) is None  # one molecule left for the query
    assert fsmol_episode(np.array([1.0] + [0.0] * 30), 16, 0) is None  # one active cannot be stratified
    assert len(fsmol_episode(labels, 18, 0).query) == 2


def test_fsmol_skips_draws_with_a_one_class_support_or_query():
    rare = np.array([1.0, 1.0] + [0.0] * 998)  # stratified at 16 the support gets no active
    assert fsmol_episode(rare, 16, 0) is None
    few = np.array([1.0] * 10 + [0.0] * 120)  # at 128, the two left for the query are inactive
    assert fsmol_episode(few, 128, 0) is None


@pytest.mark.parametrize("protocol", ["fsmol", "balanced", "random"])
def test_support_size_zero_is_one_episode_whose_query_is_the_whole_task(protocol):
    labels = np.array([1, 0, 0, 1, 0], dtype=float)
    task = FewShotTask("A", list("CNOSP"), labels)
    [(draw, episode)] = draw_episodes(task, 0, 10, 0, protocol)
    assert draw == 0 and episode.support.size == 0 and list(episode.query) == [0, 1, 2, 3, 4]
