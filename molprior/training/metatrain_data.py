"""Episodes for meta-training and meta-validation, as Lightning data.

Training draws, for every step, ``tasks_per_step`` episodes from random meta-training assays
(a random support size of ``support_sizes``, a balanced query of at most ``query_size``);
an "epoch" is ``steps_per_epoch`` steps, after which the fixed meta-validation episodes are
scored (full queries, the few-shot protocol's own draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from molprior.data.episodes import Episode, can_sample, draw_episodes, random_training_episode, training_episode
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError
from molprior.meta.batches import Bank
from molprior.meta.losses import objective


@dataclass
class EpisodeBatch:
    """One episode as tensors: support and query batches, their training targets (labels or
    values) and relation codes."""

    assay: str
    support: object
    support_targets: torch.Tensor
    query: object
    query_targets: torch.Tensor
    support_relations: torch.Tensor | None = None
    query_relations: torch.Tensor | None = None

    def to(self, device) -> "EpisodeBatch":
        moved = {name: (value.to(device) if hasattr(value, "to") else value) for name, value in vars(self).items()}
        return EpisodeBatch(**moved)


def episode_batch(task: FewShotTask, indices: np.ndarray, episode: Episode, bank: Bank,
                  task_type: str) -> EpisodeBatch:
    """Tensors of ``episode`` of ``task`` (``indices``: the task's molecules in ``bank``)."""
    if objective(task_type).reads_values:
        if task.values is None:
            raise InputError(f"assay {task.assay} has no measured values for a {task_type} head")
        targets = task.values
    else:
        targets = task.labels
    relations = task.relations if objective(task_type).reads_values else None

    def part(rows):
        return torch.as_tensor(targets[rows], dtype=torch.float32), (
            None if relations is None else torch.as_tensor(relations[rows], dtype=torch.long))

    s_targets, s_relations = part(episode.support)
    q_targets, q_relations = part(episode.query)
    return EpisodeBatch(task.assay, bank.batch(indices[episode.support]), s_targets, bank.batch(indices[episode.query]),
                        q_targets, s_relations, q_relations)


#: Measurements a random-protocol training task needs beyond its support (for a query).
RANDOM_QUERY_MIN = 9


def drawable(task: FewShotTask, support_size: int, protocol: str) -> bool:
    """Whether a training episode of ``protocol`` (``balanced`` or ``random``, see
    :mod:`molprior.data.episodes`) can be drawn from ``task`` at ``support_size``."""
    if protocol == "random":
        return len(task) >= support_size + RANDOM_QUERY_MIN
    return can_sample(task.labels, support_size // 2, support_size - support_size // 2)


class TrainingEpisodes(Dataset):
    """``length`` random training episodes; item ``i`` of epoch ``e`` is seeded by ``(seed, e, i)``.
    ``protocol`` draws the supports: ``balanced`` (assays) or ``random`` (alleles)."""

    def __init__(self, tasks: Sequence[FewShotTask], bank: Bank, support_sizes: Sequence[int],
                 query_size: int, task_type: str, length: int, seed: int = 0, protocol: str = "balanced"):
        if protocol not in ("balanced", "random"):
            raise InputError(f"unknown training protocol {protocol!r}; choose balanced or random")
        self.protocol = protocol
        self.tasks = [t for t in tasks if any(drawable(t, k, protocol) for k in support_sizes)]
        if not self.tasks:
            raise InputError(f"no meta-training task is large enough for support sizes {list(support_sizes)}"
                             + (" with actives and inactives" if protocol == "balanced" else ""))
        self.indices = [bank.indices(t.inputs) for t in self.tasks]
        self.bank, self.support_sizes, self.query_size = bank, list(support_sizes), query_size
        self.task_type, self.length, self.seed, self.epoch = task_type, length, seed, 0

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> EpisodeBatch:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        while True:
            t = int(rng.integers(len(self.tasks)))
            k = int(rng.choice(self.support_sizes))
            task = self.tasks[t]
            if drawable(task, k, self.protocol):
                draw = random_training_episode if self.protocol == "random" else training_episode
                episode = draw(task.labels, k, self.query_size, rng)
                return episode_batch(task, self.indices[t], episode, self.bank, self.task_type)


class ValidationAssay:
    """One meta-validation assay and its fixed draws (the few-shot protocol's own episodes).

    Scoring all draws of an assay together lets a learner whose adaptation leaves the encoder
    alone embed the assay's molecules once rather than once per draw.  (A plain class, not a
    dataclass, so that Lightning hands it over as it is rather than walking its fields.)
    """

    def __init__(self, task: FewShotTask, indices: np.ndarray, bank: Bank, episodes: list[Episode],
                 task_type: str):
        self.task, self.indices, self.bank, self.episodes, self.task_type = task, indices, bank, episodes, task_type

    def episode(self, k: int) -> EpisodeBatch:
        return episode_batch(self.task, self.indices, self.episodes[k], self.bank, self.task_type)

    def molecules(self):
        """All of the assay's molecules as one batch."""
        return self.bank.batch(self.indices)

    def targets(self, rows: np.ndarray) -> torch.Tensor:
        values = self.task.values if objective(self.task_type).reads_values else self.task.labels
        return torch.as_tensor(values[rows], dtype=torch.float32)

    def relations(self, rows: np.ndarray) -> torch.Tensor | None:
        if not objective(self.task_type).reads_values or self.task.relations is None:
            return None
        return torch.as_tensor(self.task.relations[rows], dtype=torch.long)


def validation_assays(tasks: Sequence[FewShotTask], bank: Bank, support_size: int, draws: int,
                      task_type: str, seed: int = 0, protocol: str = "balanced") -> list[ValidationAssay]:
    """The few-shot protocol's draws (``protocol``: ``balanced`` or ``fsmol``, see
    :func:`molprior.data.episodes.draw_episodes`) on the meta-validation assays, full
    queries; assays too small for ``support_size`` are left out."""
    assays = []
    for task in tasks:
        episodes = [episode for _, episode in draw_episodes(task, support_size, draws, seed, protocol)]
        if episodes:
            assays.append(ValidationAssay(task, bank.indices(task.inputs), bank, episodes, task_type))
    return assays


def _as_list(items):
    return list(items)


def _single(items):
    return items[0]


class MetaDataModule(pl.LightningDataModule):
    """Training episodes from the meta-training assays; the validation assays one at a time."""

    def __init__(self, train: TrainingEpisodes, validation: list[ValidationAssay], tasks_per_step: int):
        super().__init__()
        self.train, self.validation, self.tasks_per_step = train, validation, tasks_per_step

    def train_dataloader(self) -> DataLoader:
        return DataLoader(self.train, batch_size=self.tasks_per_step, shuffle=False, collate_fn=_as_list)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.validation, batch_size=1, shuffle=False, collate_fn=_single)
