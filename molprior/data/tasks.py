"""The task record: one assay's labelled molecules, and how a table becomes tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from molprior.chem.fingerprints import ecfp, ecfp_with_errors
from molprior.data.schema import EXACT, RELATION_CODES
from molprior.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class FewShotTask:
    """One assay's labelled molecules: canonical SMILES, 0/1 labels and, where the input had
    them, the measured values (pXC50 for MoleculeACE) and their relation codes
    (:data:`~molprior.data.schema.EXACT`, ``BELOW``, ``ABOVE``)."""

    assay: str
    smiles: list[str]
    labels: np.ndarray
    values: np.ndarray | None = None
    relations: np.ndarray | None = None
    _fingerprints: np.ndarray | None = field(default=None, repr=False)

    @property
    def fingerprints(self) -> np.ndarray:
        """ECFP4 (2048 bits), computed once."""
        if self._fingerprints is None:
            self._fingerprints = ecfp(self.smiles)
        return self._fingerprints

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only the molecules at positions ``rows`` (in that order)."""
        rows = np.asarray(rows, dtype=np.int64)
        self.smiles = [self.smiles[i] for i in rows]
        self.labels = self.labels[rows]
        self.values = None if self.values is None else self.values[rows]
        self.relations = None if self.relations is None else self.relations[rows]
        self._fingerprints = None if self._fingerprints is None else self._fingerprints[rows]


def set_aside_unfingerprintable(tasks: Sequence[FewShotTask]) -> dict[str, str]:
    """Compute every task's ECFP4 once, dropping the molecules it cannot be computed for
    (the same for every method); returns the reason by SMILES of those dropped."""
    left_out: dict[str, str] = {}
    for task in tasks:
        fingerprints, errors = ecfp_with_errors(task.smiles)
        left_out.update({task.smiles[i]: reason for i, reason in errors.items()})
        task._fingerprints = fingerprints
        if errors:
            task.keep([i for i in range(len(task.smiles)) if i not in errors])
    if left_out:
        log.warning("%d molecules left out: no fingerprint (%s)", len(left_out),
                    "; ".join(f"{s}: {r}" for s, r in list(left_out.items())[:3]))
    return left_out


def tasks_from_table(table: pd.DataFrame, assays: Sequence[str]) -> list[FewShotTask]:
    """One task per assay from a standardised table (rows with a label only)."""
    known = set(table["assay"].unique())
    missing = [a for a in assays if a not in known]
    if missing:
        raise InputError(f"assays not in the table: {missing}; available: {sorted(known)}")
    labelled = table[table["label"].notna()]
    groups = labelled.groupby("assay", sort=False).indices
    smiles = labelled["smiles"].to_numpy(dtype=object)
    labels = labelled["label"].to_numpy(dtype=np.float64)
    values = (pd.to_numeric(labelled["value"], errors="coerce").to_numpy(dtype=np.float64)
              if "value" in labelled else None)
    relations = (labelled["relation"].fillna("=").map(RELATION_CODES).fillna(EXACT).to_numpy(dtype=np.int64)
                 if "relation" in labelled else None)
    tasks = []
    for assay in assays:  # the columns are converted once, then sliced per assay
        rows = groups.get(assay, np.zeros(0, dtype=np.int64))
        tasks.append(FewShotTask(assay, smiles[rows].tolist(), labels[rows],
                                 None if values is None else values[rows],
                                 None if relations is None else relations[rows]))
    return tasks
