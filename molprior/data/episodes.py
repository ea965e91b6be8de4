"""Support/query episodes for few-shot evaluation and meta-training.

Three ways to draw a support of ``k`` molecules from one assay; the query is every other
labelled molecule of the assay:

* **FS-Mol's** (:func:`fsmol_episode`): stratified so that the support keeps the assay's class
  ratio, exactly as FS-Mol's ``StratifiedTaskSampler`` draws it (scikit-learn's
  ``StratifiedShuffleSplit(train_size=k, random_state=draw)``), draws 0 to 9;
* **balanced** (:func:`fewshot_episodes`): ``k/2`` actives and ``k/2`` inactives whatever the
  assay's ratio (the MoleculeACE and MoleculeNet protocols, and meta-training on assays);
* **random** (:func:`random_episode`): ``k`` random measurements holding at least one of each
  class whenever the task has both (the MHC protocol: an allele's measurements are what a lab
  happened to measure, binders or not, and meta-training on alleles).
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from molprior.errors import InputError

if TYPE_CHECKING:
    from molprior.data.tasks import FewShotTask

log = logging.getLogger(__name__)
#: The episode protocols of :func:`draw_episodes`.
PROTOCOLS = ("fsmol", "balanced", "random")


@dataclass(frozen=True)
class Episode:
    """Indices into one assay's molecules."""

    support: np.ndarray
    query: np.ndarray


def can_sample(labels: np.ndarray, n_active: int, n_inactive: int, min_query_per_class: int = 1) -> bool:
    """Whether an assay has enough of each class for a support set and a two-class query."""
    labels = np.asarray(labels)
    actives = int((labels == 1).sum())
    inactives = int((labels == 0).sum())
    return actives >= n_active + min_query_per_class and inactives >= n_inactive + min_query_per_class


def stratified_episode(labels: np.ndarray, n_active: int, n_inactive: int, rng: np.random.Generator) -> Episode:
    """Draw ``n_active`` actives and ``n_inactive`` inactives; the query is the rest.

    Molecules whose label is NaN take part in neither set.  Raises ``ValueError`` when the
    assay has too few of a class (see :func:`can_sample`).
    """
    labels = np.asarray(labels, dtype=np.float64)
    if not can_sample(labels, n_active, n_inactive):
        raise InputError(
            f"need more than {n_active} actives and {n_inactive} inactives; "
            f"have {int((labels == 1).sum())} and {int((labels == 0).sum())}"
        )
    actives = np.flatnonzero(labels == 1)
    inactives = np.flatnonzero(labels == 0)
    support = np.concatenate([rng.choice(actives, n_active, replace=False),
                              rng.choice(inactives, n_inactive, replace=False)])
    labelled = np.flatnonzero(~np.isnan(labels))
    query = np.setdiff1d(labelled, support, assume_unique=True)
    return Episode(np.sort(support), query)


def fsmol_episode(labels: np.ndarray, support_size: int, draw: int) -> Episode | None:
    """The support FS-Mol's evaluation draws for ``draw`` (its seed) at ``support_size``, or
    ``None`` where FS-Mol skips the draw: fewer than two molecules left for the query, a class
    too small to stratify, or a support or query holding only one class.

    FS-Mol lists a task's actives, then its inactives (each in file order), and hands the
    splitter labels 0 for the first group and 1 for the second: its ``get_pos_neg_separated``
    unpacks ``more_itertools.partition``, which yields the *false* items first, the other way
    round.  The stratification is the same either way, but scikit-learn's draw depends on the
    label values, so both the order and the labels are reproduced here to give FS-Mol's
    indices.  Returned indices are into ``labels``; the query is in the splitter's order.
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    labels = np.asarray(labels, dtype=np.float64)
    order = np.concatenate([np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)])
    n_active = int((labels == 1).sum())
    split_labels = np.concatenate([np.zeros(n_active), np.ones(len(order) - n_active)])
    n_query = len(order) - support_size
    if n_query < 2:
        return None
    splitter = StratifiedShuffleSplit(n_splits=1, train_size=support_size, test_size=n_query, random_state=draw)
    try:
        support, query = next(splitter.split(np.arange(len(order)), split_labels))
    except ValueError:  # a class with fewer than two members, or sizes it cannot satisfy
        return None
    for fold in (support, query):
        if not 0 < split_labels[fold].sum() < len(fold):
            return None
    return Episode(order[support], order[query])


def fewshot_episodes(labels: np.ndarray, support_size: int, n_draws: int, seed: int) -> list[Episode]:
    """``n_draws`` balanced episodes of ``support_size`` (``support_size // 2`` per class)."""
    rng = np.random.default_rng(seed)
    half = support_size // 2
    return [stratified_episode(labels, half, support_size - half, rng) for _ in range(n_draws)]


def training_episode(labels: np.ndarray, support_size: int, query_size: int, rng: np.random.Generator) -> Episode:
    """A meta-training episode: a balanced support and a balanced query of at most
    ``query_size`` molecules drawn from the rest (every molecule when the assay is small)."""
    episode = stratified_episode(labels, support_size // 2, support_size - support_size // 2, rng)
    labels = np.asarray(labels, dtype=np.float64)
    query = episode.query
    if len(query) > query_size:
        chosen = []
        for value, share in ((1.0, query_size // 2), (0.0, query_size - query_size // 2)):
            pool = query[labels[query] == value]
            chosen.append(rng.choice(pool, min(share, len(pool)), replace=False))
        query = np.sort(np.concatenate(chosen))
    return Episode(episode.support, query)


def random_episode(labels: np.ndarray, support_size: int, rng: np.random.Generator) -> Episode:
    """A random support of ``support_size`` holding at least one labelled positive and one
    labelled negative whenever the task has both (a random one of each, then random others);
    the query is the rest (both sorted)."""
    labels = np.asarray(labels, dtype=np.float64)
    order = rng.permutation(len(labels))
    ordered = labels[order]
    positives, negatives = order[ordered == 1], order[ordered == 0]
    if support_size >= 2 and len(positives) and len(negatives):
        first = np.array([positives[0], negatives[0]])
        order = np.concatenate([first, order[~np.isin(order, first)]])
    return Episode(np.sort(order[:support_size]), np.sort(order[support_size:]))


def random_training_episode(labels: np.ndarray, support_size: int, query_size: int,
                            rng: np.random.Generator) -> Episode:
    """A meta-training episode of the random protocol: :func:`random_episode` and at most
    ``query_size`` random measurements of the rest as the query."""
    episode = random_episode(labels, support_size, rng)
    query = rng.choice(episode.query, size=min(query_size, len(episode.query)), replace=False)
    return Episode(episode.support, query)


def episode_seed(seed: int, assay: str, support_size: int) -> int:
    """A seed shared by all methods for one (assay, support size)."""
    return int(np.random.SeedSequence([seed, support_size, zlib.crc32(assay.encode())]).generate_state(1)[0])


def draw_episodes(task: "FewShotTask", support_size: int, n_draws: int, seed: int,
                  protocol: str = "balanced") -> list[tuple[int, Episode]]:
    """``(draw, episode)`` for the draws of ``protocol`` that can be made on ``task``; support
    size 0 (zero-shot) is one episode under every protocol, its query the whole task."""
    k = support_size
    if k == 0:
        return [(0, Episode(np.zeros(0, dtype=np.int64), np.arange(len(task.labels), dtype=np.int64)))]
    if protocol == "fsmol":
        drawn = [(draw, fsmol_episode(task.labels, k, draw)) for draw in range(n_draws)]
        made = [(draw, episode) for draw, episode in drawn if episode is not None]
        if len(made) < n_draws:
            log.warning("assay %s at support size %d: %d of %d FS-Mol draws cannot be made (%d molecules, %d actives)",
                        task.assay, k, n_draws - len(made), n_draws, len(task.labels), int((task.labels == 1).sum()))
        return made
    if protocol == "random":
        if len(task.labels) < k + 2:
            log.warning("task %s skipped at support size %d: %d measurements", task.assay, k, len(task.labels))
            return []
        rng = np.random.default_rng(episode_seed(seed, task.assay, k))
        return [(draw, random_episode(task.labels, k, rng)) for draw in range(n_draws)]
    if protocol != "balanced":
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    if not can_sample(task.labels, k // 2, k - k // 2):
        log.warning("assay %s skipped at support size %d: %d actives and %d inactives, need more than %d "
                    "of each", task.assay, k, int((task.labels == 1).sum()), int((task.labels == 0).sum()), k // 2)
        return []
    return list(enumerate(fewshot_episodes(task.labels, k, n_draws, episode_seed(seed, task.assay, k))))
