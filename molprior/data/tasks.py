"""The task record: one assay's labelled molecules, and how a table becomes tasks."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from molprior.data.input_kinds import input_kind
from molprior.data.schema import EXACT, RELATION_CODES
from molprior.errors import InputError

log = logging.getLogger(__name__)


@dataclass
class FewShotTask:
    """One task: an assay's (or an allele's) measured inputs, the same record for every kind.

    ``inputs`` are of a registered input kind (:mod:`molprior.data.input_kinds`): canonical
    SMILES (``kind="smiles"``) or peptide sequences (``"peptide"``);
    ``labels`` are 0/1 (NaN where undetermined; ``None`` for a task measured only as values);
    ``values`` the measured values (pXC50 for MoleculeACE, the transformed affinity for an
    allele) with their relation codes (:data:`~molprior.data.schema.EXACT`, ``BELOW``,
    ``ABOVE``).  Where the source fixes a split, ``split`` names each row's (``"train"`` or
    ``"test"``); ``rows`` are the inputs' positions in a shared table of features, for callers
    that embed every distinct input once; ``metadata`` holds other per-row columns (such as
    MoleculeACE's activity-cliff flags).  Every per-row field follows :meth:`keep`.
    ``description`` is the task's text where the input carries one (FS-Mol's tasks: their target).
    """

    assay: str
    inputs: list[str]
    labels: np.ndarray | None
    values: np.ndarray | None = None
    relations: np.ndarray | None = None
    kind: str = "smiles"
    split: np.ndarray | None = None
    rows: np.ndarray | None = None
    metadata: dict[str, np.ndarray] = field(default_factory=dict)
    description: str = ""
    _fingerprints: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        input_kind(self.kind)  # a known kind, or ValueError

    def __len__(self) -> int:
        return len(self.inputs)

    @property
    def fingerprints(self) -> np.ndarray:
        """ECFP4 (2048 bits) of the inputs (as their kind computes it), computed once;
        :class:`InputError` names the first input that has none."""
        if self._fingerprints is None:
            fingerprints, errors = input_kind(self.kind).fingerprints(self.inputs, 2048)
            if errors:
                position, reason = next(iter(errors.items()))
                raise InputError(f"{self.assay}, input {position + 1} ({self.inputs[position]!r}): {reason}")
            self._fingerprints = fingerprints
        return self._fingerprints

    def keep(self, rows: Sequence[int]) -> None:
        """Keep only the inputs at positions ``rows`` (in that order), in every per-row field."""
        rows = np.asarray(rows, dtype=np.int64)

        def pick(column: np.ndarray | None) -> np.ndarray | None:
            return None if column is None else column[rows]

        self.inputs = [self.inputs[i] for i in rows]
        self.labels, self.values, self.relations = pick(self.labels), pick(self.values), pick(self.relations)
        self.split, self.rows, self._fingerprints = pick(self.split), pick(self.rows), pick(self._fingerprints)
        self.metadata = {name: column[rows] for name, column in self.metadata.items()}


def set_aside_unfingerprintable(tasks: Sequence[FewShotTask]) -> dict[str, str]:
    """Compute every task's ECFP4 once, dropping the molecules it cannot be computed for
    (the same for every method); returns the reason by input of those dropped."""
    left_out: dict[str, str] = {}
    for task in tasks:
        fingerprints, errors = input_kind(task.kind).fingerprints(task.inputs, 2048)
        left_out.update({task.inputs[i]: reason for i, reason in errors.items()})
        task._fingerprints = fingerprints
        if errors:
            task.keep([i for i in range(len(task)) if i not in errors])
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
    descriptions = (labelled["description"].fillna("").astype(str).to_numpy(dtype=object)
                    if "description" in labelled else None)
    tasks = []
    for assay in assays:  # the columns are converted once, then sliced per assay
        rows = groups.get(assay, np.zeros(0, dtype=np.int64))
        tasks.append(FewShotTask(assay, smiles[rows].tolist(), labels[rows],
                                 None if values is None else values[rows],
                                 None if relations is None else relations[rows],
                                 description=descriptions[rows[0]] if descriptions is not None and len(rows) else ""))
    return tasks
