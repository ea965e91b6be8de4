"""A user's peptide list, read in chunks: one peptide per line, or a CSV with a peptide column.

Every row keeps its line in the file (``row``; a CSV header is line 1), the text as given,
the normalised peptide (see :func:`molprior.immunology.peptides.check_peptide`) or the reason it
is unusable, and notes on what normalisation did.  Alleles are passed through as written:
the scorer resolves them against its model's supported alleles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, Sequence

import pandas as pd

from molprior.immunology.peptides import DEFAULT_LENGTHS, check_peptide
from molprior.data.readers import choose_delimiter, iter_text_table, open_text
from molprior.errors import InputError

PEPTIDE_COLUMNS = ("peptide", "sequence")
ALLELE_COLUMNS = ("allele", "mhc", "hla")
COLUMNS = ("row", "input", "peptide", "allele_input", "error", "note")


class PeptideInputError(InputError):
    """A peptide file that cannot be read at all (missing, empty, no peptide column, ...)."""


def _first_line(path: Path) -> tuple[int, str]:
    """``(line number, text)`` of the first non-empty line."""
    try:
        handle = open_text(path)
    except InputError as error:  # not text: an Excel workbook, NUL bytes, a broken archive
        raise PeptideInputError(str(error)) from error
    with handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if line.strip():
                return number, line
    raise PeptideInputError(f"{path} is empty: no peptides")


def _pick(columns: list[str], aliases: tuple[str, ...]) -> str | None:
    lower = {str(c).strip().lower(): c for c in columns}
    return next((lower[a] for a in aliases if a in lower), None)


def iter_peptide_rows(path: str | Path, lengths: tuple[int, int] = DEFAULT_LENGTHS,
                      chunk_rows: int = 50_000, empty_lines: list[int] | None = None) -> Iterator[pd.DataFrame]:
    """Chunks of at most ``chunk_rows`` rows with columns :data:`COLUMNS`.

    A CSV/TSV (by extension, or a first line naming a ``peptide``/``sequence`` column) is
    read line by line, a malformed line becoming one row with its reason; anything else is
    one peptide per line.  The encoding and a
    semicolon or tab delimiter are found as for every input file
    (:func:`~molprior.data.readers.open_text`, :func:`~molprior.data.readers.choose_delimiter`).
    Blank lines are skipped, and their line numbers appended to ``empty_lines`` when given
    (for the caller to report).  A valid peptide seen before with the same allele text is kept
    and noted ``duplicate of row N``.  Yields at least one (possibly empty) frame.
    """
    path = Path(path)
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    if not path.exists():
        raise PeptideInputError(f"no such file: {path}")
    if path.is_dir():
        raise PeptideInputError(f"{path} is a directory, expected a file")
    header_line, first = _first_line(path)
    name = path.name.lower().removesuffix(".gz")
    sep = choose_delimiter(path, first)
    fields = [f.strip().strip('"').lower() for f in first.split(sep)]
    is_table = name.endswith((".csv", ".tsv", ".tab")) or any(f in PEPTIDE_COLUMNS for f in fields)
    skipped = empty_lines if empty_lines is not None else []
    records = (_table_records(path, sep, header_line, chunk_rows, skipped) if is_table
               else _text_records(path, chunk_rows, skipped))
    seen: dict[tuple[str, str | None], int] = {}
    yielded = False
    for chunk in records:
        if chunk:
            yield _frame([_row(*record, lengths, seen) for record in chunk])
            yielded = True
    if not yielded:
        yield _frame([])


def _text_records(path: Path, chunk_rows: int, skipped: list[int]) -> Iterator[list[tuple]]:
    chunk: list[tuple] = []
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if not line.strip():
                skipped.append(number)
                continue
            chunk.append((number, line, None, None))
            if len(chunk) >= chunk_rows:
                yield chunk
                chunk = []
    yield chunk


def _table_records(path: Path, sep: str, header_line: int, chunk_rows: int,
                   skipped: list[int]) -> Iterator[list[tuple]]:
    """Records of a peptide table, read line by line as every input table is
    (:func:`~molprior.data.readers.iter_text_table`): a malformed line (an unclosed quote, a
    wrong number of fields) is one record with its reason and its raw text, and the rest of
    the file is read."""
    skipped.extend(range(1, header_line))  # blank lines before the header
    try:
        peptide_col = allele_col = None
        for frame, problems in iter_text_table(path, chunk_rows, names=PEPTIDE_COLUMNS + ALLELE_COLUMNS):
            if peptide_col is None:
                columns = [str(c) for c in frame.columns]
                peptide_col = _pick(columns, PEPTIDE_COLUMNS)
                if peptide_col is None:
                    raise PeptideInputError(
                        f"{path.name}: no peptide column (expected one named {' or '.join(PEPTIDE_COLUMNS)}); "
                        f"the file's columns are: {', '.join(map(repr, columns))}")
                allele_col = _pick(columns, ALLELE_COLUMNS)
            alleles = frame[allele_col] if allele_col is not None else [None] * len(frame)
            records = [(int(line), peptide, allele, None)
                       for line, peptide, allele in zip(frame.index, frame[peptide_col], alleles)]
            for line, text, _, reason in problems:
                if reason == "empty line":
                    skipped.append(int(line))
                else:
                    records.append((int(line), text, None, reason))
            yield sorted(records, key=lambda record: record[0])
    except InputError as error:
        raise PeptideInputError(str(error)) from error


def _row(number: int, text: str, allele: str | None, unreadable: str | None, lengths: tuple[int, int],
         seen: dict[tuple[str, str | None], int]) -> tuple:
    if unreadable is not None:  # a line that could not be split into the table's fields
        return number, text, None, None, unreadable, None
    check = check_peptide(text, lengths)
    notes = list(check.notes)
    if check.peptide is not None:
        first = seen.setdefault((check.peptide, allele), number)
        if first != number:
            notes.append(f"duplicate of row {first}")
    return number, text, check.peptide, allele, check.reason, "; ".join(notes) or None


def _frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(COLUMNS), dtype=object)
    frame["row"] = frame["row"].astype("int64")
    return frame


def peptide_rows(peptides: Sequence[object], alleles: Sequence[object] | None = None,
                 lengths: tuple[int, int] = DEFAULT_LENGTHS) -> pd.DataFrame:
    """The rows of an in-memory peptide list (a table's columns), numbered from 1, with the
    same checks and notes as :func:`iter_peptide_rows`."""
    seen: dict[tuple[str, str | None], int] = {}
    alleles = [None] * len(peptides) if alleles is None else [_text(a) for a in alleles]
    return _frame([_row(i, _text(p), a, None, lengths, seen)
                   for i, (p, a) in enumerate(zip(peptides, alleles), start=1)])


def _text(value: object) -> str:
    """A cell as text; missing values (None, NaN) are empty."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)
