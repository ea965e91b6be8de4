"""``molprior peptides score``: a peptide list against a genotype, streamed, with per-row errors.

Output: one row per input peptide and allele, in input order: predicted IC50 (nM), the
transformed score ``1 - log(ic50)/log(50000)``, the binder call (strong < 50 nM, weak < 500 nM),
the percentile rank among random natural-frequency peptides of the same length, and the
genotype's best allele for the peptide (lowest IC50).  Rows that cannot be scored keep their
input and say why in ``error``; what normalisation changed is in ``note``.  The input is read in
chunks and the output written to a temporary file that replaces ``output`` only when complete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from molprior.chem.alleles import AlleleError, resolve_allele
from molprior.data.mhc import binder_call, score_to_ic50
from molprior.data.peptide_input import iter_peptide_rows, peptide_rows
from molprior.errors import InputError
from molprior.files import atomic_path, check_output_path
from molprior.inference.mhc_predictor import MHCPredictor

log = logging.getLogger(__name__)

COLUMNS = ["row", "input", "peptide", "allele", "ic50_nm", "score", "binder", "percentile_rank", "best_allele",
           "error", "note"]
#: ``--mhcflurry-columns``: the names ``mhcflurry-predict`` writes for the same quantities.
MHCFLURRY_NAMES = {"ic50_nm": "mhcflurry_affinity", "percentile_rank": "mhcflurry_affinity_percentile",
                   "best_allele": "mhcflurry_best_allele"}
CHUNK_ROWS = 20000


@dataclass
class ScoringOutcome:
    output: Path
    peptides: int = 0  # input rows (blank lines excluded)
    rows: int = 0  # output rows (peptides x alleles)
    scored: int = 0
    errors: int = 0
    alleles: list[str] = field(default_factory=list)
    allele_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    empty_lines: list[int] = field(default_factory=list)  # blank input lines, skipped (not peptides)


class AlleleResolver:
    """Allele names resolved against a predictor once per distinct spelling."""

    def __init__(self, supported: list[str]):
        self.supported = supported
        self._known: dict[str, str | AlleleError] = {}

    def __call__(self, name: str) -> str | AlleleError:
        if name not in self._known:
            try:
                self._known[name] = resolve_allele(name, self.supported)
            except AlleleError as error:
                self._known[name] = error
        return self._known[name]


def _expand(chunk: pd.DataFrame, genotype: list[str] | None, resolver: AlleleResolver) -> pd.DataFrame:
    """One row per peptide and allele, with the allele resolved (or the reason it could not be)."""
    if genotype is not None:
        frame = chunk.loc[chunk.index.repeat(len(genotype))].reset_index(drop=True)
        frame["allele"] = genotype * len(chunk)
    else:
        frame = chunk.reset_index(drop=True).copy()
        frame["allele"] = frame["allele_input"].fillna("")
    resolved = [resolver(a) for a in frame["allele"]]
    allele_error = [str(r) if isinstance(r, AlleleError) else None for r in resolved]
    frame["allele"] = [a if e else r for a, r, e in zip(frame["allele"], resolved, allele_error)]
    frame["error"] = [p or a for p, a in zip(frame["error"], allele_error)]
    return frame


def score_chunk(predictor: MHCPredictor, chunk: pd.DataFrame, genotype: list[str] | None,
                resolver: AlleleResolver, batch_size: int = 64) -> pd.DataFrame:
    """Scores of one chunk of :func:`~molprior.data.peptide_input.iter_peptide_rows` output."""
    frame = _expand(chunk, genotype, resolver)
    for column in ("ic50_nm", "score", "percentile_rank"):
        frame[column] = np.nan
    ok = frame["error"].isna().to_numpy()
    if ok.any():
        peptides = frame.loc[ok, "peptide"].to_numpy(dtype=object)
        unique, inverse = np.unique(peptides.astype(str), return_inverse=True)
        body = predictor.body(list(unique), batch_size)  # each peptide embedded once, for every allele
        lengths = np.array([len(p) for p in unique])
        alleles = frame.loc[ok, "allele"].to_numpy(dtype=object)
        scores, ranks = np.empty(len(peptides)), np.empty(len(peptides))
        for allele in np.unique(alleles.astype(str)):
            rows = alleles == allele
            wanted = np.unique(inverse[rows])
            allele_scores = np.full(len(unique), np.nan)
            part = body if len(wanted) == len(unique) else body[wanted]  # a genotype wants them all: no copy
            allele_scores[wanted] = predictor.scores_from_body(part, allele)
            allele_ranks = np.full(len(unique), np.nan)
            allele_ranks[wanted] = predictor.percentile(allele, lengths[wanted], allele_scores[wanted])
            scores[rows] = allele_scores[inverse[rows]]
            ranks[rows] = allele_ranks[inverse[rows]]
        frame.loc[ok, "score"] = scores
        frame.loc[ok, "ic50_nm"] = score_to_ic50(scores)
        frame.loc[ok, "percentile_rank"] = ranks
    frame["binder"] = binder_call(frame["ic50_nm"].to_numpy())
    # precision the model has (and output that does not depend on how the input was chunked)
    frame = frame.round({"ic50_nm": 2, "score": 5, "percentile_rank": 3})
    scored = frame[ok]
    best = scored.loc[scored.groupby("row")["ic50_nm"].idxmin(), ["row", "allele"]] if len(scored) else None
    frame["best_allele"] = frame["row"].map(dict(zip(best["row"], best["allele"]))) if best is not None else None
    return frame[COLUMNS]


def score_peptide_file(predictor: MHCPredictor, peptides: str | Path, output: str | Path,
                       alleles: list[str] | None = None, chunk_rows: int = CHUNK_ROWS,
                       mhcflurry_columns: bool = False, batch_size: int = 64) -> ScoringOutcome:
    """Score ``peptides`` against ``alleles`` (a genotype; ``None``: the file's allele column)
    and write ``output`` (CSV) atomically (refused before any work when it is a directory or
    would replace the input).  Blank input lines are skipped and listed in ``empty_lines``."""
    start = time.perf_counter()
    check_output_path(output, [peptides])
    outcome = ScoringOutcome(Path(output))
    resolver = AlleleResolver(predictor.supported)
    genotype = None
    if alleles is not None:
        genotype, seen = [], set()
        for name in alleles:
            resolved = resolver(name)
            if isinstance(resolved, AlleleError):
                outcome.allele_errors.append(str(resolved))
                log.error("%s", resolved)
            key = str(resolved)
            if key not in seen:  # two spellings of one allele count once
                seen.add(key)
                genotype.append(name)
        outcome.alleles = [a for a in (resolver(n) for n in genotype) if isinstance(a, str)]
    names = {c: MHCFLURRY_NAMES.get(c, c) for c in COLUMNS} if mhcflurry_columns else None
    with atomic_path(output) as tmp:
        header = True
        for chunk in iter_peptide_rows(peptides, predictor.lengths, chunk_rows, outcome.empty_lines):
            has_column = chunk["allele_input"].notna().any()
            if genotype is None and not has_column and len(chunk):
                raise InputError(f"{peptides} has no allele column: give the genotype with --alleles")
            if genotype is not None and has_column:
                raise InputError(f"{peptides} has an allele column and --alleles was given: use one or the other")
            frame = score_chunk(predictor, chunk, genotype, resolver, batch_size)
            outcome.peptides += len(chunk)
            outcome.rows += len(frame)
            outcome.errors += int(frame["error"].notna().sum())
            outcome.scored += int(frame["error"].isna().sum())
            (frame.rename(columns=names) if names else frame).to_csv(tmp, mode="w" if header else "a",
                                                                     header=header, index=False)
            header = False
        if header:  # no peptide at all: still a well-formed (empty) table
            pd.DataFrame(columns=[names.get(c, c) for c in COLUMNS] if names else COLUMNS).to_csv(tmp, index=False)
    outcome.seconds = time.perf_counter() - start
    return outcome


def empty_lines_note(lines: list[int], shown: int = 10) -> str:
    """``2 empty lines skipped (lines 3, 13)``: what the scorer did with blank input lines."""
    listed = ", ".join(map(str, lines[:shown])) + (f" and {len(lines) - shown} more" if len(lines) > shown else "")
    plural = "s" if len(lines) != 1 else ""
    return f"{len(lines)} empty line{plural} skipped (line{plural} {listed})"


def score_table(predictor: MHCPredictor, frame: pd.DataFrame) -> pd.DataFrame:
    """Score an in-memory table with ``peptide`` and ``allele`` columns (the pyfunc's input)."""
    missing = {"peptide", "allele"} - set(frame.columns)
    if missing:
        raise InputError(f"the input needs 'peptide' and 'allele' columns; missing {sorted(missing)}")
    rows = peptide_rows(frame["peptide"].tolist(), frame["allele"].tolist(), predictor.lengths)
    return score_chunk(predictor, rows, None, AlleleResolver(predictor.supported))
