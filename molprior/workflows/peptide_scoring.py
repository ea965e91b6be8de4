"""``molprior peptides score``: a peptide list against a genotype, streamed, with per-row errors.

Output: one row per input peptide and allele, in input order, with the columns of
:mod:`molprior.inference.mhc_scoring` (IC50, score, binder call, percentile rank, best allele,
error, note).  The input is read in chunks, scored in the run's worker processes
(:class:`molprior.parallel.Workers`), and the output written in input order to a temporary file
that replaces ``output`` only when complete.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from molprior.immunology.alleles import AlleleError
from molprior.data.peptide_input import iter_peptide_rows
from molprior.errors import InputError
from molprior.files import atomic_path, check_output_path
from molprior.inference import mhc_scoring
from molprior.inference.mhc_scoring import COLUMNS, AlleleResolver
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.parallel import Workers

log = logging.getLogger(__name__)

#: ``--mhcflurry-columns``: the names ``mhcflurry-predict`` writes for the same quantities.
MHCFLURRY_NAMES = {"ic50_nm": "mhcflurry_affinity", "percentile_rank": "mhcflurry_affinity_percentile",
                   "best_allele": "mhcflurry_best_allele"}
CHUNK_ROWS = 5000  # small enough that a worker's first chunk (its memory first touched) costs little extra


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
    progress: list[tuple[int, float]] = field(default_factory=list)  # (peptides written, seconds) per chunk


@dataclass(frozen=True)
class _ChunkScoring:
    """What every chunk of a run is scored with (each worker holds one, sent once)."""

    predictor: MHCPredictor
    genotype: list[str] | None
    resolver: AlleleResolver
    batch_size: int | None
    names: dict[str, str] | None  # output column names, when not molprior's own


def _score_chunk(scoring: _ChunkScoring, chunk: pd.DataFrame) -> tuple[str, int, int, int]:
    """A chunk's output rows as CSV text (no header), its rows, its rows with an error and its
    peptides (input rows)."""
    frame = mhc_scoring.score_chunk(scoring.predictor, chunk, scoring.genotype, scoring.resolver, scoring.batch_size)
    text = (frame.rename(columns=scoring.names) if scoring.names else frame).to_csv(header=False, index=False)
    return text, len(frame), int(frame["error"].notna().sum()), len(chunk)


def score_peptide_file(predictor: MHCPredictor, peptides: str | Path, output: str | Path,
                       alleles: list[str] | None = None, chunk_rows: int = CHUNK_ROWS,
                       mhcflurry_columns: bool = False, batch_size: int | None = None,
                       jobs: int = 1) -> ScoringOutcome:
    """Score ``peptides`` against ``alleles`` (a genotype; ``None``: the file's allele column)
    and write ``output`` (CSV) atomically (refused before any work when it is a directory or
    would replace the input).  Blank input lines are skipped and listed in ``empty_lines``.
    Chunks of ``chunk_rows`` input rows are scored in ``jobs`` worker processes (kept for the
    run), written in input order; the output does not depend on either.  A predictor on a GPU
    (:meth:`MHCPredictor.to`) scores in this process alone."""
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

    def checked_chunks():
        for chunk in iter_peptide_rows(peptides, predictor.lengths, chunk_rows, outcome.empty_lines):
            has_column = chunk["allele_input"].notna().any()
            if genotype is None and not has_column and len(chunk):
                raise InputError(f"{peptides} has no allele column: give the genotype with --alleles")
            if genotype is not None and has_column:
                raise InputError(f"{peptides} has an allele column and --alleles was given: use one or the other")
            outcome.peptides += len(chunk)
            yield chunk

    scoring = _ChunkScoring(predictor, genotype, resolver, batch_size, names)
    if predictor.device.type != "cpu":
        jobs = 1  # a GPU context does not survive a fork: the model runs here
    with Workers(jobs, scoring) as workers, atomic_path(output) as tmp, open(tmp, "w", newline="") as handle:
        handle.write(pd.DataFrame(columns=[names.get(c, c) for c in COLUMNS] if names else COLUMNS)
                     .to_csv(index=False))
        for text, rows, errors, peptides in workers.map(_score_chunk, checked_chunks()):
            handle.write(text)
            outcome.progress.append(((outcome.progress[-1][0] if outcome.progress else 0) + peptides,
                                     time.perf_counter() - start))
            outcome.rows += rows
            outcome.errors += errors
            outcome.scored += rows - errors
    outcome.seconds = time.perf_counter() - start
    return outcome


def empty_lines_note(lines: list[int], shown: int = 10) -> str:
    """``2 empty lines skipped (lines 3, 13)``: what the scorer did with blank input lines."""
    listed = ", ".join(map(str, lines[:shown])) + (f" and {len(lines) - shown} more" if len(lines) > shown else "")
    plural = "s" if len(lines) != 1 else ""
    return f"{len(lines)} empty line{plural} skipped (line{plural} {listed})"
