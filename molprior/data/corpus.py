"""Unlabelled molecules for pretraining: read, standardise, de-duplicate, tokenise.

Every molecule that cannot be used is reported with its line and reason (unparseable,
standardisation failure, a SMILES that SELFIES cannot encode, too many tokens); an
empty corpus is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from molprior.chem.tokenizer import TokenizationError, smiles_to_selfies_tokens
from molprior.data.curation import CurationOptions, standardize_table
from molprior.data.readers import read_smiles_list
from molprior.data.schema import problems_table


class CorpusError(ValueError):
    """A corpus with no usable molecule."""


@dataclass
class Corpus:
    """Distinct canonical SMILES, their SELFIES tokens, and the lines set aside."""

    smiles: list[str]
    tokens: list[list[str]]
    rejected: pd.DataFrame  # line, input, column, reason
    lines_read: int


def load_corpus(
    path: str | Path,
    smiles_column: str | None = None,
    max_tokens: int = 99,
    max_molecules: int | None = None,
    options: CurationOptions = CurationOptions(),
    n_jobs: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Corpus:
    """Read a SMILES file (``.smi``/``.txt`` or a CSV with a SMILES column) into a corpus.

    ``max_molecules`` keeps the first that many lines (before standardisation).
    """
    result = read_smiles_list(path, smiles_column)
    table = result.table if max_molecules is None else result.table.head(max_molecules)
    kept, problems = standardize_table(table, options, n_jobs=n_jobs, progress=progress)
    rejected = [result.problems, problems]
    smiles, tokens, bad = [], [], []
    seen: set[str] = set()
    for line, text, canonical in zip(kept["line"], kept["input"], kept["smiles"]):
        if canonical in seen:
            continue
        try:
            selfies_tokens = smiles_to_selfies_tokens(canonical)
        except TokenizationError as error:
            bad.append((int(line), text, "smiles", str(error)))
            continue
        if len(selfies_tokens) > max_tokens:
            bad.append((int(line), text, "smiles", f"{len(selfies_tokens)} SELFIES tokens, more than {max_tokens}"))
            continue
        seen.add(canonical)
        smiles.append(canonical)
        tokens.append(selfies_tokens)
    rejected.append(problems_table(bad))
    report = pd.concat([r for r in rejected if len(r)], ignore_index=True) if any(len(r) for r in rejected) \
        else problems_table([])
    if not smiles:
        raise CorpusError(f"{path}: no usable molecule among {len(table)} lines "
                          f"({len(report)} rejected; first reasons: {report['reason'].head(3).tolist()})")
    return Corpus(smiles, tokens, report.sort_values("line", kind="stable").reset_index(drop=True), len(table))
