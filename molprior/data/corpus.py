"""Unlabelled molecules for pretraining: read, standardise, de-duplicate, tokenise.

Every molecule that cannot be used is reported with its line and reason (unparseable,
standardisation failure, a SMILES that SELFIES cannot encode, too many tokens); an
empty corpus is an error.

Peptides (:func:`load_peptide_corpus`) are read as sequences and become all-atom molecules
(canonical SMILES of ``Chem.MolFromSequence``, as the immunology layer builds them), so a
pretraining corpus can mix them with small molecules (:func:`merge_corpora`).  Peptides
measured on chosen MHC alleles can be left out, so that a benchmark on those alleles stays
honest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import yaml

from molprior.immunology.peptides import DEFAULT_LENGTHS, check_peptide, peptide_to_smiles
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.chem.tokenizer import TokenizationError, smiles_to_selfies_tokens
from molprior.data.curation import CurationOptions, standardize_table
from molprior.data.readers import find_column, open_text, read_smiles_list, read_text_table
from molprior.data.schema import problems_table
from molprior.errors import InputError, MissingError
from molprior.presets import config_path

log = logging.getLogger(__name__)


class CorpusError(InputError):
    """A corpus with no usable molecule."""


@dataclass
class Corpus:
    """Distinct canonical SMILES, their SELFIES tokens, and the lines set aside."""

    smiles: list[str]
    tokens: list[list[str]]
    rejected: pd.DataFrame  # line, input, column, reason
    lines_read: int
    peptide: list[bool] = field(default_factory=list)  # per molecule: from a peptide file (empty: none)
    stats: dict = field(default_factory=dict)  # what a peptide corpus left out, and why

    @property
    def peptide_smiles(self) -> set[str]:
        """The molecules that are peptides."""
        return {s for s, is_peptide in zip(self.smiles, self.peptide) if is_peptide}


@quiet_rdkit()
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


PEPTIDE_ALIASES = ("peptide", "sequence")
ALLELE_ALIASES = ("allele", "mhc", "hla")
_TABLE_SUFFIXES = (".csv", ".tsv", ".tab")


def excluded_alleles(value: str | Sequence[str] | None) -> list[str]:
    """The alleles to exclude: a list as given; a string naming a YAML file: its ``held_out``
    list (a file or a preset, e.g. ``mhc_benchmark.yaml``); any other string: comma-separated."""
    if value is None:
        return []
    if isinstance(value, str):
        if value.lower().endswith((".yaml", ".yml")):
            try:
                path = config_path(value)
            except MissingError as error:
                raise CorpusError(f"no such allele list: {error}") from None
            held_out = (yaml.safe_load(path.read_text()) or {}).get("held_out")
            if not isinstance(held_out, list) or not held_out:
                raise CorpusError(f"{path} has no 'held_out:' list of alleles")
            return [str(a).strip() for a in held_out]
        return [a.strip() for a in value.split(",") if a.strip()]
    return [str(a).strip() for a in value]


def _read_peptide_rows(path: Path, peptide_column: str | None, allele_column: str | None,
                       need_alleles: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[tuple]]:
    """Lines, sequences and (when ``need_alleles``) alleles of a peptide file, and its problems."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    if name.lower().endswith(_TABLE_SUFFIXES):
        frame, problems = read_text_table(path)
        peptides = frame[find_column(frame, peptide_column, "peptide", path, PEPTIDE_ALIASES)].to_numpy(dtype=object)
        alleles = None
        if need_alleles:
            alleles = frame[find_column(frame, allele_column, "allele", path, ALLELE_ALIASES)].to_numpy(dtype=object)
        return frame.index.to_numpy(), peptides, alleles, problems
    if need_alleles:
        raise CorpusError(f"{path}: excluding alleles needs a table with an allele column (CSV/TSV), "
                          "not a list of sequences")
    if not path.exists():
        raise InputError(f"no such file: {path}")
    with open_text(path) as handle:
        raw = handle.read().splitlines()
    first = raw[0].split()[0].lower() if raw and raw[0].split() else ""
    start = 1 if first in PEPTIDE_ALIASES else 0
    items = [(n + 1, line.split()[0] if line.split() else "") for n, line in enumerate(raw) if n >= start]
    problems = [(n, "", "", "empty line") for n, text in items if not text]
    items = [(n, text) for n, text in items if text]
    return (np.array([n for n, _ in items], dtype=np.int64), np.array([t for _, t in items], dtype=object),
            None, problems)


@quiet_rdkit()
def load_peptide_corpus(
    path: str | Path,
    max_tokens: int = 240,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    exclude_alleles: str | Sequence[str] | None = None,
    max_peptides: int | None = None,
    seed: int = 0,
    peptide_column: str | None = None,
    allele_column: str | None = None,
) -> Corpus:
    """Distinct peptides of ``path`` as molecules: a CSV/TSV (optionally gzipped) with a
    ``peptide`` (or ``sequence``) column, or a text file with one sequence per line.

    Sequences are checked (standard residues, length within ``lengths``); every sequence
    measured on one of ``exclude_alleles`` (see :func:`excluded_alleles`; needs an
    ``allele`` column) is left out wherever it occurs in the file; ``max_peptides`` keeps a
    seeded random sample of the rest, in file order.  Each peptide becomes the canonical
    SMILES of ``Chem.MolFromSequence``; those with more than ``max_tokens`` SELFIES tokens
    are rejected with the reason.  ``stats`` counts what was left out.
    """
    path = Path(path)
    alleles_out = excluded_alleles(exclude_alleles)
    lines, texts, alleles, read_problems = _read_peptide_rows(path, peptide_column, allele_column, bool(alleles_out))
    low, high = (int(x) for x in lengths)
    checks: dict[object, object] = {}
    problems: list[tuple] = []
    first_line: dict[str, int] = {}
    for line, text in zip(lines, texts):
        check = checks.get(text)
        if check is None:
            check = checks[text] = check_peptide(text, (low, high))
        if check.ok:
            first_line.setdefault(check.peptide, int(line))
        else:
            problems.append((int(line), "" if text is None else str(text), "peptide", check.reason))

    stats: dict = {"peptide_lines": len(lines), "peptides_distinct": len(first_line)}
    excluded: set[str] = set()
    if alleles_out:
        wanted = set(alleles_out)
        found: dict[str, int] = {}
        for text, allele in zip(texts, alleles):
            allele = str(allele).strip()
            if allele in wanted:
                found[allele] = found.get(allele, 0) + 1
                check = checks[text]
                if check.ok:
                    excluded.add(check.peptide)
        missing = [a for a in alleles_out if a not in found]
        if missing:
            log.warning("%s: no measurement on excluded alleles %s", path, missing)
        stats.update({"excluded_alleles": alleles_out, "excluded_allele_rows": found,
                      "excluded_alleles_not_found": missing})
    candidates = [p for p in first_line if p not in excluded]
    stats["peptides_excluded"] = len(first_line) - len(candidates)
    if max_peptides is not None and len(candidates) > max_peptides:
        keep = np.sort(np.random.default_rng(seed).choice(len(candidates), size=max_peptides, replace=False))
        stats["peptides_not_sampled"] = len(candidates) - max_peptides
        candidates = [candidates[i] for i in keep]

    smiles, tokens, seen = [], [], set()
    for peptide in candidates:
        try:
            canonical = peptide_to_smiles(peptide)
            selfies_tokens = smiles_to_selfies_tokens(canonical)
        except (ValueError, TokenizationError) as error:
            problems.append((first_line[peptide], peptide, "peptide", str(error)))
            continue
        if len(selfies_tokens) > max_tokens:
            problems.append((first_line[peptide], peptide, "peptide",
                             f"{len(selfies_tokens)} SELFIES tokens, more than {max_tokens}"))
            continue
        if canonical in seen:
            continue
        seen.add(canonical)
        smiles.append(canonical)
        tokens.append(selfies_tokens)
    report = problems_table(read_problems + problems).sort_values("line", kind="stable").reset_index(drop=True)
    stats["peptides"] = len(smiles)
    if not smiles:
        raise CorpusError(f"{path}: no usable peptide among {len(lines)} lines "
                          f"({len(report)} rejected, {stats['peptides_excluded']} excluded; "
                          f"first reasons: {report['reason'].head(3).tolist()})")
    return Corpus(smiles, tokens, report, len(lines), [True] * len(smiles), stats)


def merge_corpora(molecules: Corpus, peptides: Corpus) -> Corpus:
    """One corpus: the molecules, then the peptides not already among them.  The rejected
    lines of both files are kept (``column`` tells a peptide line from a SMILES line)."""
    seen = set(molecules.smiles)
    keep = [i for i, s in enumerate(peptides.smiles) if s not in seen]
    rejected = [r for r in (molecules.rejected, peptides.rejected) if len(r)]
    return Corpus(
        molecules.smiles + [peptides.smiles[i] for i in keep],
        molecules.tokens + [peptides.tokens[i] for i in keep],
        pd.concat(rejected, ignore_index=True) if rejected else problems_table([]),
        molecules.lines_read + peptides.lines_read,
        (molecules.peptide or [False] * len(molecules.smiles)) + [True] * len(keep),
        {**molecules.stats, **peptides.stats},
    )
