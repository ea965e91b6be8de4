"""Support/query episodes for few-shot evaluation and meta-training.

FS-Mol's protocol: a support set of ``k`` molecules drawn stratified (``k/2`` actives,
``k/2`` inactives); the query is every other labelled molecule of the assay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
        raise ValueError(
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
