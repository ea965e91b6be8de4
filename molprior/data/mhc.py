"""MHC class I binding measurements as per-allele tasks, and the affinity conventions.

Affinities follow MHCflurry's conventions: the model predicts the transformed score
``1 - log(ic50) / log(50000)`` clipped to [0, 1]; a binder is below 500 nM (strong below
50 nM).  A censored IC50 (``>`` or ``<``) bounds the score from the other side: an IC50
``> 20000`` is a score ``< 0.084``, used with :func:`molprior.meta.losses.censored_mse`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from molprior.immunology.alleles import AlleleError, normalize_allele
from molprior.immunology.peptides import DEFAULT_LENGTHS, check_peptide
from molprior.data.labels import BINDER_NM
from molprior.data.schema import ABOVE, BELOW, EXACT
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError

MAX_IC50_NM = 50000.0
STRONG_BINDER_NM = 50.0
WEAK_BINDER_NM = BINDER_NM  # 500 nM

#: IC50 relation -> relation of the transformed score (a larger IC50 is a smaller score).
SCORE_RELATION = {"=": EXACT, ">": BELOW, "<": ABOVE}


def ic50_to_score(ic50: np.ndarray | float) -> np.ndarray:
    """``1 - log(ic50)/log(50000)``, clipped to [0, 1]."""
    ic50 = np.maximum(np.asarray(ic50, dtype=np.float64), 1e-12)
    return np.clip(1.0 - np.log(ic50) / np.log(MAX_IC50_NM), 0.0, 1.0)


def score_to_ic50(score: np.ndarray | float) -> np.ndarray:
    """The IC50 (nM) of a transformed score: ``50000 ** (1 - score)``."""
    return MAX_IC50_NM ** (1.0 - np.asarray(score, dtype=np.float64))


def binder_call(ic50: np.ndarray) -> np.ndarray:
    """``"strong"`` (< 50 nM), ``"weak"`` (< 500 nM) or ``"non-binder"`` per IC50 (``""`` for NaN)."""
    ic50 = np.asarray(ic50, dtype=np.float64)
    calls = np.where(ic50 < STRONG_BINDER_NM, "strong", np.where(ic50 < WEAK_BINDER_NM, "weak", "non-binder"))
    return np.where(np.isnan(ic50), "", calls).astype(object)


def binder_labels(ic50: np.ndarray, relation: np.ndarray, threshold: float = BINDER_NM) -> np.ndarray:
    """1 for a binder (< ``threshold`` nM), 0 for a non-binder, NaN when a bound does not decide."""
    ic50 = np.asarray(ic50, dtype=np.float64)
    relation = np.asarray(relation, dtype=object)
    labels = np.full(len(ic50), np.nan)
    exact = relation == "="
    labels[exact] = ic50[exact] < threshold
    labels[(relation == "<") & (ic50 <= threshold)] = 1.0
    labels[(relation == ">") & (ic50 >= threshold)] = 0.0
    return labels


@dataclass
class MHCMeasurements:
    """Peptide/allele measurements: columns ``allele`` (normalised), ``peptide``, ``ic50``,
    ``relation`` (of the IC50), ``score``, ``score_relation`` (code for the censored loss),
    ``label`` (binder at 500 nM; NaN when undetermined); and the rows set aside, with reasons."""

    table: pd.DataFrame
    rejected: pd.DataFrame

    def counts(self) -> pd.Series:
        """Measurements per allele, largest first."""
        return self.table["allele"].value_counts()

    def alleles(self) -> list[str]:
        return sorted(self.table["allele"].unique())

    def of(self, allele: str) -> pd.DataFrame:
        return self.table[self.table["allele"] == allele].reset_index(drop=True)


def allele_tasks(table: pd.DataFrame, peptide_rows: dict[str, int], alleles: Sequence[str]) -> list[FewShotTask]:
    """One peptide task per allele of a measurement table (see :class:`MHCMeasurements`): the
    allele is the task's assay, its values the transformed affinities (float32) with their
    censoring codes, and ``rows`` each peptide's position in ``peptide_rows``."""
    tasks = []
    for allele in alleles:
        part = table[table["allele"] == allele]
        peptides = part["peptide"].tolist()
        tasks.append(FewShotTask(allele, peptides, np.array(part["label"], dtype=np.float64),
                                 np.array(part["score"], dtype=np.float32),
                                 np.array(part["score_relation"], dtype=np.int64), kind="peptide",
                                 rows=np.array([peptide_rows[p] for p in peptides], dtype=np.int64)))
    return tasks


def measurements_from_frame(frame: pd.DataFrame, lengths: tuple[int, int] = DEFAULT_LENGTHS) -> MHCMeasurements:
    """Measurements from a frame with ``allele``, ``peptide``, ``ic50`` and optionally
    ``measurement_inequality`` (``=`` when absent): alleles normalised, peptides checked."""
    missing = {"allele", "peptide", "ic50"} - set(frame.columns)
    if missing:
        raise InputError(f"MHC measurements need columns allele, peptide, ic50; missing {sorted(missing)}")
    relation = (frame["measurement_inequality"].fillna("=").astype(str).str.strip().replace("", "=")
                if "measurement_inequality" in frame else pd.Series("=", index=frame.index))
    ic50 = pd.to_numeric(frame["ic50"], errors="coerce")
    names: dict[str, str | AlleleError] = {}
    for name in frame["allele"].astype(str).unique():
        try:
            names[name] = normalize_allele(name)
        except AlleleError as error:
            names[name] = error
    rows, rejected = [], []
    for line, allele, peptide, value, rel in zip(frame.index, frame["allele"].astype(str), frame["peptide"], ic50, relation):
        check = check_peptide(peptide, lengths)
        allele_name = names[allele]
        reason = (check.reason if not check.ok else str(allele_name) if isinstance(allele_name, AlleleError)
                  else "missing or non-numeric ic50" if not np.isfinite(value) or value <= 0
                  else f"unknown inequality {rel!r}" if rel not in SCORE_RELATION else None)
        if reason:
            rejected.append((line, allele, peptide, reason))
        else:
            rows.append((allele_name, check.peptide, float(value), rel))
    table = pd.DataFrame(rows, columns=["allele", "peptide", "ic50", "relation"])
    table["score"] = ic50_to_score(table["ic50"].to_numpy())
    table["score_relation"] = table["relation"].map(SCORE_RELATION).astype(np.int64)
    table["label"] = binder_labels(table["ic50"].to_numpy(), table["relation"].to_numpy())
    return MHCMeasurements(table, pd.DataFrame(rejected, columns=["line", "allele", "peptide", "reason"]))


def load_measurements(path: str | Path, lengths: tuple[int, int] = DEFAULT_LENGTHS,
                      allele: str | None = None) -> MHCMeasurements:
    """Read an MHC measurement CSV (MHCflurry's curated layout: ``allele, peptide, ic50,
    measurement_inequality``; ``measurement_value`` is accepted for ``ic50``).  A file without
    an ``allele`` column needs ``allele``, the allele of every row.  The file is read as every
    input table is (:func:`molprior.data.readers.read_text_table`): a line that cannot be split
    into the header's fields is rejected with its reason and its text, the rest is read."""
    from molprior.data.readers import read_text_table
    from molprior.errors import InputError

    try:
        frame, problems = read_text_table(path, names=("allele", "peptide", "ic50", "measurement_value"))
    except InputError as error:
        raise InputError(str(error)) from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if "ic50" not in frame and "measurement_value" in frame:
        frame = frame.rename(columns={"measurement_value": "ic50"})
    if "allele" not in frame and allele is not None:
        frame["allele"] = allele
    measurements = measurements_from_frame(frame, lengths)
    unreadable = pd.DataFrame([(line, "", text, reason) for line, text, _, reason in problems if reason != "empty line"],
                              columns=measurements.rejected.columns)
    if len(unreadable):
        rejected = pd.concat([measurements.rejected, unreadable], ignore_index=True).sort_values("line", kind="stable")
        measurements = MHCMeasurements(measurements.table, rejected.reset_index(drop=True))
    return measurements
