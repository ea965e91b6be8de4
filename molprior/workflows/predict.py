"""``molprior predict``: score a file of molecules with an adapted model.

The output keeps every input row, in order, with the input's columns, and adds the
prediction (``probability_active`` for a classification model, ``value`` for a regression
model), ``uncertainty`` (the predictive standard deviation of a GP head; empty for models
without one), ``support_similarity`` (the highest Tanimoto similarity of the molecule's ECFP4 to a
support molecule: an applicability-domain guide, low values mean extrapolation) and
``error`` (why a row could not be scored; empty otherwise).

The input is streamed in chunks of ``chunk_rows`` rows and each scored chunk is appended to
a temporary file beside the output, which replaces the output only once complete: memory
stays bounded whatever the library's size, and a killed run leaves any earlier output intact.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from molprior.data.readers import SMILES_ALIASES, find_column, is_line_list, iter_line_list, iter_text_table
from molprior.errors import InputError
from molprior.files import atomic_path, check_output_path
from molprior.inference.assay_scoring import AssayScorer, RecentScores
from molprior.parallel import Workers
from molprior.tracking.artifacts import local_model_dir, resolve_model_dir
from molprior.tracking.pyfunc import HEADS_INDEX, ScoringModel

log = logging.getLogger(__name__)
CHUNK_ROWS = 20_000
LOGGED_ERRORS = 50  # row errors written to the log; all of them are in the output's error column


@dataclass
class PredictOutcome:
    output: Path
    rows: int
    scored: int
    errors: int
    seen: int | None = None  # scored molecules the model was meta-trained on (None: the model does not say)


def load_scorer(model: str | Path, assay: str | None = None) -> AssayScorer:
    """An adapted model from a directory, ``runs:/`` or ``models:/`` URI, ready to score; for
    a packaged (pyfunc) model, its head for ``assay`` (default: the model's default assay)."""
    root = local_model_dir(model)
    heads = root / "artifacts" / "heads"
    if (heads / HEADS_INDEX).exists():
        packaged = ScoringModel(heads)
        wanted = assay or packaged.default_assay
        if wanted not in packaged.scorers:
            raise InputError(f"{model} has no head for assay {wanted!r}; it scores {sorted(packaged.scorers)}")
        return packaged.scorers[wanted]
    if assay is not None:
        raise InputError(f"--assay is for packaged models with several heads; {model} is one adapted model")
    return AssayScorer.load(resolve_model_dir(root, kind="fewshot"))


def iter_molecules(path: str | Path, smiles_column: str | None = None,
                   chunk_rows: int = CHUNK_ROWS) -> Iterator[tuple[pd.DataFrame, str]]:
    """Every input row in chunks (index: line in the file), with the SMILES column's name;
    malformed CSV lines are kept as rows whose ``error`` says why and whose SMILES column
    holds the line's text (the other columns are empty)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if is_line_list(path):
        yield from _iter_smiles_lines(path, chunk_rows)
        return
    column = None
    for frame, problems in iter_text_table(path, chunk_rows, [smiles_column or ""]):
        column = column or find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
        frame["error"] = ""
        bad = [(line, text, reason) for line, text, _, reason in problems if reason != "empty line"]
        if bad:
            extra = pd.DataFrame({column: [text for _, text, _ in bad], "error": [reason for _, _, reason in bad]},
                                 index=pd.Index([line for line, _, _ in bad], name="line"))
            frame = pd.concat([frame, extra]).sort_index(kind="stable")
        yield frame, column


def _iter_smiles_lines(path: Path, chunk_rows: int) -> Iterator[tuple[pd.DataFrame, str]]:
    rows: list[tuple[int, list[str]]] = []
    yielded = False
    for number, fields in iter_line_list(path):
        if not fields:
            continue
        rows.append((number, fields))
        if chunk_rows and len(rows) >= chunk_rows:
            yield _smiles_frame(rows), "smiles"
            rows, yielded = [], True
    if rows or not yielded:
        yield _smiles_frame(rows), "smiles"


def _smiles_frame(rows: list[tuple[int, list[str]]]) -> pd.DataFrame:
    return pd.DataFrame({"smiles": [f[0] for _, f in rows], "name": [" ".join(f[1:]) for _, f in rows],
                         "error": ""}, index=pd.Index([n for n, _ in rows], name="line"))


def score_frame(scorer: AssayScorer, frame: pd.DataFrame, column: str, jobs: int = 1, workers: Workers | None = None,
                recent: RecentScores | None = None) -> tuple[pd.DataFrame, int]:
    """``frame`` (with its ``error`` column) plus the scores, in the output's layout; also how
    many of the rows scored are molecules the model was meta-trained on."""
    todo = (frame["error"] == "").to_numpy()
    scored = scorer.score(frame.loc[todo, column].tolist(), jobs=jobs, workers=workers, recent=recent)
    result = frame.drop(columns="error").reset_index(drop=True)
    errors = frame["error"].to_numpy(dtype=object).copy()
    for name in scorer.output_columns[:-1]:
        values = pd.Series(float("nan"), index=result.index)
        values[todo] = scored[name].to_numpy()
        result[name] = values
    errors[todo] = scored["error"].to_numpy()
    result["error"] = errors
    return result, int((scored["seen"] & (scored["error"] == "")).sum())


def run_predict(model: str | Path, input_path: str | Path, output: str | Path, smiles_column: str | None = None,
                jobs: int = 1, chunk_rows: int = CHUNK_ROWS, assay: str | None = None,
                device: str = "cpu") -> PredictOutcome:
    """Score ``input_path`` with an adapted model, chunk by chunk, and write ``output`` atomically
    (refused before any work when it is a directory or would replace the input).  One set of
    ``jobs`` worker processes serves the whole run, and an input repeated within the run is
    scored once.  On a GPU ``device`` the workers only read and featurise; the model runs here."""
    check_output_path(output, [input_path])
    scorer = load_scorer(model, assay).to(device)
    rows = errors = 0
    seen = 0 if scorer.seen is not None else None
    recent = RecentScores()
    with scorer.workers(jobs) as workers, atomic_path(output) as tmp, open(tmp, "w", newline="") as handle:
        for frame, column in iter_molecules(input_path, smiles_column, chunk_rows):
            result, n_seen = score_frame(scorer, frame, column, workers=workers, recent=recent)
            if seen is not None:
                seen += n_seen
            result.to_csv(handle, header=rows == 0, index=False)
            failed = result["error"] != ""
            for line, reason in zip(frame.index[failed.to_numpy()], result.loc[failed, "error"]):
                if errors < LOGGED_ERRORS:
                    log.warning("line %s: %s", line, reason)
                errors += 1
            rows += len(result)
            log.debug("scored %d rows so far", rows)
    if errors > LOGGED_ERRORS:
        log.warning("... and %d more rows with an error (see the error column)", errors - LOGGED_ERRORS)
    log.info("scored %d of %d rows (%d with an error) -> %s", rows - errors, rows, errors, output)
    if seen:
        log.warning("%d of the %d scored rows are molecules the model was meta-trained on", seen, rows - errors)
    return PredictOutcome(Path(output), rows, rows - errors, errors, seen)
