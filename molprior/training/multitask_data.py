"""Multitask batches: molecules with their labels (and values) on every training assay.

FS-Mol's multitask baseline, and the probes on a multitask-trained encoder that come close to
the best meta-learners on its benchmark, train one output per training assay on batches of
molecules: each molecule carries a label (and a measured value) for the few assays that
measured it, and the loss is taken over those measurements only.  :class:`MultitaskBatches`
holds the measurements of the meta-training tasks once, as flat arrays, and hands out seeded
batches of molecules with theirs; values are standardised per assay (its mean and spread over
its training measurements), so that every assay's regression output has unit scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from molprior.data.schema import EXACT
from molprior.errors import InputError
from molprior.data.tasks import FewShotTask
from molprior.meta.batches import MoleculeBank


@dataclass
class MultitaskConfig:
    """Multitask training: ``batch_size`` molecules per step; ``value_weight`` weighs the
    standardised-value regression beside the label's cross-entropy (0: labels only)."""

    batch_size: int = 256
    value_weight: float = 1.0

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise InputError("multitask batch_size must be positive")
        if self.value_weight < 0:
            raise InputError("multitask value_weight must not be negative")


@dataclass
class MultitaskBatch:
    """A batch of molecules and their measurements: measurement ``j`` is of molecule
    ``rows[j]`` (a position in ``molecules``) on assay ``tasks[j]``."""

    molecules: object
    rows: torch.Tensor
    tasks: torch.Tensor
    labels: torch.Tensor
    values: torch.Tensor  # standardised per assay; NaN where the assay gave none
    relations: torch.Tensor

    def to(self, device) -> "MultitaskBatch":
        return MultitaskBatch(**{name: value.to(device) for name, value in vars(self).items()})


class MultitaskBatches(Dataset):
    """``length`` batches of ``batch_size`` distinct molecules drawn from those measured on
    ``tasks``; item ``i`` of epoch ``e`` is seeded by ``(seed, e, i)``, so batches repeat from
    run to run whatever the loader's order.  Assay ``t``'s output is ``tasks[t]``'s."""

    def __init__(self, tasks: Sequence[FewShotTask], bank: MoleculeBank, batch_size: int, length: int,
                 seed: int = 0):
        if not tasks:
            raise InputError("multitask training needs at least one training assay")
        self.assays = [t.assay for t in tasks]
        positions, task_ids, labels, values, relations = [], [], [], [], []
        for t, task in enumerate(tasks):
            n = len(task.inputs)
            positions.append(bank.indices(task.inputs))
            task_ids.append(np.full(n, t, dtype=np.int64))
            labels.append(np.asarray(task.labels, dtype=np.float32))
            values.append(_standardised(task.values, n))
            relations.append(np.full(n, EXACT, dtype=np.int64) if task.relations is None
                             else np.asarray(task.relations, dtype=np.int64))
        position = np.concatenate(positions)
        order = np.argsort(position, kind="stable")  # measurements grouped by molecule
        self.position = position[order]
        self.task_ids = np.concatenate(task_ids)[order]
        self.labels = np.concatenate(labels)[order]
        self.values = np.concatenate(values)[order]
        self.relations = np.concatenate(relations)[order]
        self.molecules, self.starts = np.unique(self.position, return_index=True)
        self.ends = np.append(self.starts[1:], len(self.position))
        self.bank, self.batch_size, self.length, self.seed, self.epoch = bank, batch_size, length, seed, 0

    @property
    def num_tasks(self) -> int:
        return len(self.assays)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int) -> MultitaskBatch:
        rng = np.random.default_rng([self.seed, self.epoch, i])
        chosen = np.sort(rng.choice(len(self.molecules), size=min(self.batch_size, len(self.molecules)), replace=False))
        counts = self.ends[chosen] - self.starts[chosen]
        measurements = np.concatenate([np.arange(s, e) for s, e in zip(self.starts[chosen], self.ends[chosen])])
        rows = np.repeat(np.arange(len(chosen)), counts)
        return MultitaskBatch(self.bank.batch(self.molecules[chosen]), torch.from_numpy(rows),
                              torch.from_numpy(self.task_ids[measurements]), torch.from_numpy(self.labels[measurements]),
                              torch.from_numpy(self.values[measurements]), torch.from_numpy(self.relations[measurements]))


def _standardised(values: np.ndarray | None, n: int) -> np.ndarray:
    """An assay's values minus their mean, over their spread (NaN where missing; all NaN when
    the assay has none or they do not vary)."""
    if values is None:
        return np.full(n, np.nan, dtype=np.float32)
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values)
    if finite.sum() < 2 or np.std(values[finite]) < 1e-6:
        return np.full(n, np.nan, dtype=np.float32)
    return ((values - values[finite].mean()) / values[finite].std()).astype(np.float32)
