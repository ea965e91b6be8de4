"""Alleles as few-shot tasks (peptide :class:`~molprior.data.tasks.FewShotTask`) over precomputed peptide embeddings: training and validation episodes.

Every allele's measurements point into one table of peptide embeddings (each distinct peptide
embedded once).  A training episode is an allele, a random support of one of the support sizes
and a random query from the rest; validation episodes are fixed draws, so checkpoints are
compared on the same tasks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import IterableDataset

from molprior.data.tasks import FewShotTask
from molprior.models.allele_model import PeptideFeatures


@dataclass
class AlleleEpisode:
    """Support and query of one allele, ready for the allele model."""

    assay: str  # the allele
    support: PeptideFeatures
    support_scores: torch.Tensor
    support_relations: torch.Tensor
    query: PeptideFeatures
    query_scores: torch.Tensor
    query_relations: torch.Tensor
    query_labels: np.ndarray


def draw_support(task: FewShotTask, size: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A random support of ``size`` measurements holding at least one labelled binder and one
    labelled non-binder whenever the allele has both (a random one of each, then random others),
    and the rest as the query."""
    order = rng.permutation(len(task))
    labels = task.labels[order]
    binders, non_binders = order[labels == 1], order[labels == 0]
    if size >= 2 and len(binders) and len(non_binders):
        first = np.array([binders[0], non_binders[0]])
        order = np.concatenate([first, order[~np.isin(order, first)]])
    return np.sort(order[:size]), np.sort(order[size:])


def make_episode(features: torch.Tensor, task: FewShotTask, support: np.ndarray, query: np.ndarray) -> AlleleEpisode:
    def part(index: np.ndarray):
        return (PeptideFeatures(features[torch.from_numpy(task.rows[index])]), torch.from_numpy(task.values[index]),
                torch.from_numpy(task.relations[index]))
    s, q = part(support), part(query)
    return AlleleEpisode(task.assay, *s, *q, task.labels[query])


class AlleleEpisodeStream(IterableDataset):
    """Endless meta-batches of training episodes (``episodes_per_epoch`` batches per epoch)."""

    def __init__(self, features: torch.Tensor, tasks: Sequence[FewShotTask], support_sizes: Sequence[int],
                 query_size: int, meta_batch: int, batches_per_epoch: int, seed: int = 0):
        self.features, self.tasks = features, [t for t in tasks if len(t) > min(support_sizes) + 8]
        self.support_sizes, self.query_size = list(support_sizes), query_size
        self.meta_batch, self.batches_per_epoch, self.seed = meta_batch, batches_per_epoch, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __iter__(self) -> Iterator[list[AlleleEpisode]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.batches_per_epoch):
            batch = []
            for t in rng.choice(len(self.tasks), size=self.meta_batch):
                task = self.tasks[t]
                sizes = [k for k in self.support_sizes if k + 8 < len(task)]
                support, rest = draw_support(task, int(rng.choice(sizes)), rng)
                query = rng.choice(rest, size=min(self.query_size, len(rest)), replace=False)
                batch.append(make_episode(self.features, task, support, query))
            yield batch


def validation_episodes(features: torch.Tensor, tasks: Sequence[FewShotTask], support_size: int, draws: int,
                        seed: int = 0) -> list[AlleleEpisode]:
    """Fixed episodes: ``draws`` supports of ``support_size`` per task, the rest as query."""
    rng = np.random.default_rng(seed)
    episodes = []
    for task in tasks:
        for _ in range(draws):
            support, query = draw_support(task, support_size, rng)
            episodes.append(make_episode(features, task, support, query))
    return episodes
