"""Standardise every molecule of an assay table, keeping a reason for each one rejected.

Each distinct input is standardised once (in worker processes when ``n_jobs > 1``):
SMILES through :func:`molprior.chem.standardize.standardize_smiles`, peptides through
:func:`molprior.immunology.peptides.check_peptide` and then ``Chem.MolFromSequence``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from molprior.immunology.peptides import DEFAULT_LENGTHS, check_peptide, peptide_to_smiles
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.chem.standardize import StandardizeOptions, standardize_smiles
from molprior.data.schema import problems_table
from molprior.parallel import Workers


@dataclass(frozen=True)
class CurationOptions:
    """How molecules and peptides are standardised."""

    molecules: StandardizeOptions = StandardizeOptions()
    peptide_lengths: tuple[int, int] = DEFAULT_LENGTHS


@dataclass(frozen=True)
class Outcome:
    smiles: str | None
    normalized: str | None  # the peptide after normalisation (peptides only)
    reason: str | None
    notes: str


def _one(item: tuple[str, str], options: CurationOptions) -> Outcome:
    kind, text = item
    if kind == "peptide":
        check = check_peptide(text, options.peptide_lengths)
        if not check.ok:
            return Outcome(None, None, check.reason, "; ".join(check.notes))
        try:
            return Outcome(peptide_to_smiles(check.peptide), check.peptide, None, "; ".join(check.notes))
        except ValueError as error:
            return Outcome(None, None, str(error), "")
    result = standardize_smiles(text, options.molecules)
    return Outcome(result.smiles, None, result.reason, "; ".join(result.notes))


@quiet_rdkit()
def _chunk(options: CurationOptions, items: Sequence[tuple[str, str]]) -> list[Outcome]:
    return [_one(item, options) for item in items]


@quiet_rdkit()
def standardize_items(
    items: Sequence[tuple[str, str]],
    options: CurationOptions = CurationOptions(),
    n_jobs: int = 1,
    chunk_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> list[Outcome]:
    """Outcomes for ``(input_type, input)`` pairs, in order."""
    chunks = [items[i : i + chunk_size] for i in range(0, len(items), chunk_size)]
    outcomes: list[Outcome] = []
    with Workers(min(n_jobs, len(chunks)), options) as workers:
        for chunk, result in zip(chunks, workers.map(_chunk, chunks)):
            outcomes += result
            if progress:
                progress(len(chunk))
    return outcomes


def standardize_table(
    table: pd.DataFrame,
    options: CurationOptions = CurationOptions(),
    n_jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fill ``smiles`` for every row that standardises; return ``(kept, problems)``.

    ``kept`` gains a ``notes`` column (what standardisation changed); for peptides the
    ``input`` keeps the original text and ``peptide`` holds the normalised sequence.
    """
    inputs = table["input"].astype(object).where(table["input"].notna(), "").astype(str)
    keys = list(zip(table["input_type"].astype(str), inputs))
    unique = list(dict.fromkeys(keys))
    outcomes = dict(zip(unique, standardize_items(unique, options, n_jobs, progress=progress)))
    rows = [outcomes[k] for k in keys]
    ok = np.array([o.smiles is not None for o in rows], dtype=bool)
    kept = table.loc[ok].copy()
    kept["smiles"] = [o.smiles for o, good in zip(rows, ok) if good]
    kept["notes"] = [o.notes for o, good in zip(rows, ok) if good]
    has_peptides = bool((table["input_type"] == "peptide").any())
    if has_peptides:
        kept["peptide"] = [o.normalized for o, good in zip(rows, ok) if good]
    column = "peptide" if has_peptides else "smiles"
    problems = problems_table([
        (int(line), text, column, outcome.reason)
        for line, text, outcome, good in zip(table["line"], inputs, rows, ok)
        if not good
    ])
    return kept.reset_index(drop=True), problems
