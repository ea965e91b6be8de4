"""Readers from the file formats chemists and immunologists bring into the assay schema.

Every reader returns a :class:`ReadResult`: the long table (see :mod:`molprior.data.schema`)
and a table of problems (line, input, column, reason) for rows it could not take.  Bad
cells never stop a read; only a file that cannot be read at all, or a missing column,
raises :class:`InputError` (naming the columns the file does have).

Column options follow Chemprop: ``smiles_column``, ``target_columns``; long files also take
``assay_column`` and ``value_column``.

Rules every reader shares: the encoding is found from the file's first bytes (UTF-8 with or
without a byte-order mark, UTF-16, UTF-32: :func:`text_encoding`); a semicolon or tab delimiter
is used where the header says so unambiguously (:func:`choose_delimiter`); each line is one
record, so a quote left open spoils only its own line (:func:`split_line`); and text columns
that are not numbers are identifiers carried along, not measurements
(:func:`is_identifier_column`).
"""

from __future__ import annotations

import codecs
import csv
import difflib
import gzip
import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import pandas as pd

from molprior.data import fsmol, labels as labelling
from molprior.data.schema import COLUMNS, assay_table, empty_table, problems_table
from molprior.errors import InputError

SMILES_ALIASES = ("smiles", "smile", "canonical_smiles", "mol", "molecule", "structure")

_VALUE = re.compile(r"^\s*(<=|>=|<|>|=|~)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_MISSING = {"", "nan", "na", "n/a", "none", "null"}


@dataclass
class ReadResult:
    """A table in the assay schema and the rows that could not be read."""

    table: pd.DataFrame
    problems: pd.DataFrame
    #: input columns carried along as extra columns of ``table`` (names, ids): not measurements
    identifiers: tuple[str, ...] = ()
    #: the assays in input order (a wide file's columns); empty: the table's order of first appearance
    assays: tuple[str, ...] = ()
    #: rows that are a benchmark's own, molecules already cleaned by its pipeline (FS-Mol):
    #: taken as they are, neither standardised again nor merged
    curated: bool = False


def _open_binary(path: Path):
    """The bytes of ``path``: decompressed for ``.gz``, the single member of a ``.zip``."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    if path.suffix == ".zip":
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile as error:
            raise InputError(f"{path} is not a readable zip archive ({error})") from error
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise InputError(f"{path} holds {len(members)} files; expected exactly one")
        return archive.open(members[0])
    return open(path, "rb")


def text_encoding(head: bytes, name: str) -> str:
    """The encoding of a text file that starts with the bytes ``head``.

    UTF-8 with or without a byte-order mark (as Excel writes "CSV UTF-8"), UTF-16 and UTF-32
    with a byte-order mark, and UTF-16 without one (told by its NUL bytes: every other byte of
    ASCII text) are read.  Raises :class:`InputError` naming what the file is when it is no
    text molprior can read: an Excel workbook, or other bytes holding NULs.
    """
    if head.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return "utf-32"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"\xd0\xcf\x11\xe0"):
        raise InputError(f"{name} is an Excel workbook or another archive, not a text file: "
                         "save it as 'CSV UTF-8 (comma delimited)'")
    if b"\x00" in head:
        even, odd = head[0::2], head[1::2]
        if odd and even.count(0) == 0 and odd.count(0) * 2 >= len(odd):
            return "utf-16-le"
        if even and odd.count(0) == 0 and even.count(0) * 2 >= len(even):
            return "utf-16-be"
        raise InputError(f"{name} holds NUL bytes: a binary file, or text in an encoding molprior does not "
                         "read; save it as a UTF-8 CSV")
    return "utf-8"


def open_text(path: str | Path) -> io.TextIOBase:
    """Open a (possibly gzip- or zip-compressed) text file in the encoding :func:`text_encoding`
    finds (a byte-order mark is not part of the text); bytes that do not decode become U+FFFD."""
    path = Path(path)
    binary = _open_binary(path)
    try:
        head = binary.read(4096)
        binary.seek(0)
    except (OSError, EOFError, zipfile.BadZipFile) as error:  # gzip.BadGzipFile is an OSError
        binary.close()
        raise InputError(f"{path} cannot be read: {error}") from error
    try:
        encoding = text_encoding(head, path.name)
    except InputError:
        binary.close()
        raise
    return io.TextIOWrapper(binary, encoding=encoding, errors="replace", newline="")


#: Column names that tell a header line from data and a delimiter from text: SMILES aliases
#: and the peptide/allele columns of MHC files.
KNOWN_COLUMNS = SMILES_ALIASES + ("peptide", "sequence", "allele", "mhc", "hla")
DELIMITERS = (",", ";", "\t")
UNBALANCED_QUOTE = "malformed line: a quote is not closed on its line (a quoted field cannot span lines)"


def _inner_name(path: Path) -> str:
    """The file's name without a ``.gz``/``.zip`` suffix (``x.tsv.gz`` -> ``x.tsv``)."""
    return path.name[: -len(path.suffix)] if path.suffix in (".gz", ".zip") else path.name


def choose_delimiter(path: str | Path, header: str, names: Sequence[str] = ()) -> str:
    """The delimiter of a table whose first line is ``header``.

    The default is the extension's (tab for ``.tsv``/``.tab``, else comma).  Another of comma,
    semicolon and tab (as Excel writes in many locales) is chosen only where that is
    unambiguous: the header split on the default names no known column (a SMILES alias, a
    peptide or allele column, or one of ``names``) but split on exactly one other delimiter
    does; or, naming none, the header holds no default delimiter and exactly one other.
    """
    default = "\t" if _inner_name(Path(path)).lower().endswith((".tsv", ".tab")) else ","
    known = {n.lower() for n in (*KNOWN_COLUMNS, *(n for n in names if n))}

    def names_one(sep: str) -> bool:
        return any(f.strip().strip('"').strip().lower() in known for f in header.split(sep))

    others = [sep for sep in DELIMITERS if sep != default]
    if names_one(default):
        return default
    naming = [sep for sep in others if names_one(sep)]
    if len(naming) == 1:
        return naming[0]
    present = [sep for sep in others if sep in header]
    if not naming and default not in header and len(present) == 1:
        return present[0]
    return default


def split_line(text: str, sep: str) -> list[str] | None:
    """The fields of one line of a delimited file (CSV quoting: ``"a,b"``, ``""`` for a quote),
    or ``None`` when a quoted field is not closed on the line.

    molprior reads tables line by line: a SMILES, a peptide or an identifier never holds a line
    break, so a quoted field that would run on into the next line is a malformed line, and the
    lines after it are read as they stand.
    """
    if '"' not in text:
        return text.split(sep)
    try:
        return next(csv.reader([text], delimiter=sep, strict=True))
    except csv.Error as error:
        if "unexpected end of data" in str(error):
            return None
        return next(csv.reader([text], delimiter=sep))  # a stray quote inside a field is kept as text


def read_text_table(path: str | Path, names: Sequence[str] = ()) -> tuple[pd.DataFrame, list[tuple]]:
    """Read a delimited file as strings; the frame's index is each row's line in the file.

    Bytes that do not decode become U+FFFD, so the rows that hold them can be reported.
    Empty lines, lines whose number of fields differs from the header's and lines with a quote
    that is not closed on the line are returned as problems ``(line, input, column, reason)``
    (``input`` is the line's text) and left out of the frame.  The delimiter is
    :func:`choose_delimiter`'s (``names``: columns the caller will ask for).
    """
    frames, problems = [], []
    for frame, chunk_problems in iter_text_table(path, names=names):
        frames.append(frame)
        problems += chunk_problems
    return (pd.concat(frames) if len(frames) > 1 else frames[0]), problems


def _check_file(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, expected a file")
    return path


def iter_text_table(path: str | Path, chunk_rows: int | None = None,
                    names: Sequence[str] = ()) -> Iterator[tuple[pd.DataFrame, list[tuple]]]:
    """:func:`read_text_table` in pieces of at most ``chunk_rows`` rows (all at once when
    ``None``), so a file of any size is read with bounded memory.  Yields at least one
    (possibly empty) frame, each with the header's columns.  Each line is one record (see
    :func:`split_line`); the header is the first line that is not blank."""
    path = _check_file(path)
    with open_text(path) as handle:
        lines = enumerate(handle, start=1)
        for number, text in lines:
            text = text.rstrip("\r\n")
            if text.strip():
                break
        else:
            raise InputError(f"{path} is empty: cannot read the header")
        sep = choose_delimiter(path, text, names)
        header = split_line(text, sep)
        if header is None:
            raise InputError(f"{path.name}: the header (line {number}) has a quote that is not closed")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            duplicated = sorted({h for h in header if header.count(h) > 1})
            raise InputError(f"{path.name}: duplicated column names {duplicated}")
        problems: list[tuple] = []
        rows: list[list[str]] = []
        numbers: list[int] = []
        yielded = False
        for number, text in lines:
            text = text.rstrip("\r\n")
            row = split_line(text, sep) if text.strip() else []
            if row is None:
                problems.append((number, text, "", UNBALANCED_QUOTE))
            elif all(not cell.strip() for cell in row):
                problems.append((number, "", "", "empty line"))
            elif len(row) != len(header):
                problems.append((number, text, "",
                                 f"malformed line: {len(row)} fields, the header has {len(header)}"))
            else:
                rows.append(row)
                numbers.append(number)
            if chunk_rows and len(rows) + len(problems) >= chunk_rows:
                yield _text_frame(rows, numbers, header), problems
                rows, numbers, problems, yielded = [], [], [], True
        if rows or problems or not yielded:
            yield _text_frame(rows, numbers, header), problems


def _text_frame(rows: list[list[str]], lines: list[int], header: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=header, index=pd.Index(lines, dtype=np.int64, name="line"), dtype=object)


def find_column(frame: pd.DataFrame, wanted: str | None, role: str, path: Path, aliases: Sequence[str] = ()) -> str:
    """The column for ``role``: ``wanted`` (case-insensitive), else the first alias present.

    Raises :class:`InputError` listing the file's columns and the closest names.
    """
    lower = {c.lower(): c for c in frame.columns}
    if wanted is not None:
        if wanted in frame.columns:
            return wanted
        if wanted.lower() in lower:
            return lower[wanted.lower()]
        close = difflib.get_close_matches(wanted, list(frame.columns), n=2, cutoff=0.6)
        hint = f" Did you mean {' or '.join(map(repr, close))}?" if close else ""
        raise InputError(
            f"{path.name}: no {role} column {wanted!r}. The file's columns are: "
            f"{', '.join(map(repr, frame.columns))}.{hint}"
        )
    for alias in aliases:
        if alias in lower:
            return lower[alias]
    raise InputError(
        f"{path.name}: cannot tell which column holds the {role}; the file's columns are: "
        f"{', '.join(map(repr, frame.columns))}. Name it with --{role.replace(' ', '-')}-column."
    )


def parse_values(cells: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Parse measurement cells: ``(values, relations, reasons)``.

    Accepts plain numbers and censored ones written ``<10`` or ``> 1e4``.  A blank or NaN
    cell gives NaN with reason ``"missing"``; anything else unreadable gives NaN and a reason.
    """
    text = cells.astype(str).str.strip()
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, copy=True)
    relations = np.full(len(text), "=", dtype=object)
    reasons = np.full(len(text), None, dtype=object)
    for i in np.flatnonzero(np.isnan(values)):
        cell = text.iat[i]
        if cell.lower() in _MISSING:
            reasons[i] = "missing"
            continue
        match = _VALUE.match(cell)
        if match:
            values[i] = float(match.group(2))
            relations[i] = {"<=": "<", ">=": ">", "~": "="}.get(match.group(1), match.group(1))
        elif "\ufffd" in cell:
            reasons[i] = "invalid UTF-8 bytes in value"
        else:
            reasons[i] = f"non-numeric value {cell!r}"
    infinite = np.isinf(values)
    values[infinite] = np.nan
    reasons[infinite] = "non-finite value"
    return values, relations, reasons


#: Column names that say "identifier" whatever the cells hold (numeric compound ids included).
IDENTIFIER_NAMES = re.compile(r"^(id|name|title|cid|compound|compound[ _]?name|identifier)$|[ _](id|name)$",
                              re.IGNORECASE)


def is_identifier_column(cells: pd.Series, name: str | None = None) -> bool:
    """Whether a column holds identifiers (names, ids, notes), not measurements: its ``name``
    says so (``id``, ``name``, ``mol_id``, ``compound_name``: :data:`IDENTIFIER_NAMES`), or
    more than half of its non-missing cells are text that is not a number (see
    :func:`parse_values`).

    A measurement column with a stray text cell is still a measurement column (and the cell
    is reported); a column of names is carried along beside the molecule instead of giving
    one ``non-numeric value`` per row.
    """
    if name is not None and IDENTIFIER_NAMES.search(name.strip()):
        return True
    _, _, reasons = parse_values(cells)
    filled = reasons != "missing"
    text = filled & (reasons != None) & (reasons != "non-finite value")  # noqa: E711
    return bool(filled.any()) and 2 * int(text.sum()) > int(filled.sum())


#: Extra columns the assay table already has: an identifier column of one of these names is
#: carried as ``input_<name>``.
_RESERVED = set(COLUMNS) | {"notes", "peptide"}


def carried_name(column: str) -> str:
    """The name an input column carried along keeps in the assay table."""
    return f"input_{column}" if column in _RESERVED else column


def _carried(frame: pd.DataFrame, columns: Sequence[str], keep: np.ndarray | slice = slice(None)) -> dict:
    return {carried_name(c): frame[c].to_numpy(dtype=object)[keep] for c in columns}


def read_wide(
    path: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | None = None,
    source: str | None = None,
) -> ReadResult:
    """A multi-task file: one SMILES column, one column per assay; blank cells are unmeasured.

    Without ``target_columns``, every other column is an assay unless it holds identifiers
    (:func:`is_identifier_column`); identifier columns (and, with ``target_columns``, the
    other identifier columns) are carried along as extra columns of every measurement.
    """
    path = Path(path)
    frame, problems = read_text_table(path, [smiles_column or "", *(target_columns or ())])
    smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    others = [c for c in frame.columns if c != smiles_col]
    if target_columns:
        targets = [find_column(frame, t, "target", path) for t in target_columns]
        identifiers = [c for c in others if c not in targets and is_identifier_column(frame[c], c)]
    else:
        identifiers = [c for c in others if is_identifier_column(frame[c], c)]
        targets = [c for c in others if c not in identifiers]
    if not targets and identifiers:
        raise InputError(f"{path.name}: no assay columns besides {smiles_col!r}: "
                         f"{', '.join(map(repr, identifiers))} hold text, not measurements. For a list of "
                         "molecules use --format smiles (the other columns are carried along)")
    if not targets:
        raise InputError(f"{path.name}: no target columns besides {smiles_col!r}")
    pieces = []
    lines = frame.index.to_numpy()
    measured = np.zeros(len(frame), dtype=bool)
    reported = np.zeros(len(frame), dtype=bool)
    for target in targets:
        values, relations, reasons = parse_values(frame[target])
        bad = (reasons != None) & (reasons != "missing")  # noqa: E711
        for i in np.flatnonzero(bad):
            problems.append((int(lines[i]), frame[smiles_col].iat[i], target, reasons[i]))
        reported |= bad
        keep = ~np.isnan(values)
        measured |= keep
        pieces.append(assay_table(lines[keep], frame[smiles_col].to_numpy()[keep], target, values[keep],
                                  relation=relations[keep], source=source or path.name,
                                  extra=_carried(frame, identifiers, keep)))
    for i in np.flatnonzero(~measured & ~reported):
        problems.append((int(lines[i]), frame[smiles_col].iat[i], "", "no measurement in any target column"))
    table = pd.concat(pieces, ignore_index=True) if pieces else empty_table()
    table = table.sort_values(["line", "assay"], kind="stable").reset_index(drop=True)
    table = labelling.assign_labels(table)
    return ReadResult(table, problems_table(problems), tuple(carried_name(c) for c in identifiers), tuple(targets))


def read_long(
    path: str | Path,
    smiles_column: str | None = None,
    assay_column: str | None = None,
    value_column: str | None = None,
    relation_column: str | None = None,
    unit_column: str | None = None,
    source: str | None = None,
) -> ReadResult:
    """A long file: one measurement per line (``smiles,assay,value`` and optional relation/unit);
    any other column (names, ids) is carried along beside each measurement."""
    path = Path(path)
    frame, problems = read_text_table(path, [c or "" for c in (smiles_column, assay_column, value_column)])
    smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    assay_col = find_column(frame, assay_column, "assay", path, ("assay", "task", "target", "assay_id"))
    value_col = find_column(frame, value_column, "value", path, ("value", "y", "activity", "label", "measurement"))
    relation_col = _optional_column(frame, relation_column, ("relation", "measurement_inequality", "qualifier"), path)
    unit_col = _optional_column(frame, unit_column, ("unit", "units"), path)
    values, relations, reasons = parse_values(frame[value_col])
    if relation_col is not None:
        relations = _merge_relations(frame[relation_col], relations, reasons)
    assays = frame[assay_col].str.strip().to_numpy(dtype=object)
    for i in np.flatnonzero((assays == "") & (reasons == None)):  # noqa: E711
        reasons[i] = "missing assay"
    lines = frame.index.to_numpy()
    for i in np.flatnonzero((reasons != None)):  # noqa: E711
        column = assay_col if reasons[i] == "missing assay" else value_col
        reason = "missing value" if reasons[i] == "missing" else reasons[i]
        problems.append((int(lines[i]), frame[smiles_col].iat[i], column, reason))
    keep = (reasons == None)  # noqa: E711
    units = frame[unit_col].to_numpy(dtype=object)[keep] if unit_col else ""
    used = {smiles_col, assay_col, value_col, relation_col, unit_col}
    identifiers = [c for c in frame.columns if c not in used]  # names, ids, notes: carried along
    table = assay_table(lines[keep], frame[smiles_col].to_numpy()[keep], assays[keep], values[keep],
                        relation=relations[keep], unit=units, source=source or path.name,
                        extra=_carried(frame, identifiers, keep))
    table = labelling.assign_labels(table)
    return ReadResult(table, problems_table(problems), tuple(carried_name(c) for c in identifiers))


def _merge_relations(column: pd.Series, relations: np.ndarray, reasons: np.ndarray) -> np.ndarray:
    """Combine a relation column with relations written into the values; an unknown
    relation becomes the row's reason (``reasons`` is updated in place)."""
    given = column.str.strip().replace({"": "=", "<=": "<", ">=": ">", "~": "="})
    bad = ~given.isin(["=", "<", ">"]).to_numpy()
    for i in np.flatnonzero(bad & (reasons == None)):  # noqa: E711
        reasons[i] = f"unknown relation {column.iat[i]!r} (expected =, < or >)"
    given = given.where(~bad, "=")
    return np.where(relations == "=", given.to_numpy(dtype=object), relations)


def _optional_column(frame: pd.DataFrame, wanted: str | None, aliases: Sequence[str], path: Path) -> str | None:
    if wanted is not None:
        return find_column(frame, wanted, wanted, path)
    lower = {c.lower(): c for c in frame.columns}
    return next((lower[a] for a in aliases if a in lower), None)


MOLECULEACE_COLUMNS = ("smiles", "exp_mean [nM]", "y", "cliff_mol", "split")


def read_moleculeace(path: str | Path) -> ReadResult:
    """A MoleculeACE benchmark file, or a directory of them (one assay per file).

    MoleculeACE's ``y`` is -log10 of the nM value; ``value`` holds the molar
    p-value (``9 + y``: pKi or pEC50, after the file name's suffix).  ``split`` and
    ``cliff_mol`` are kept as extra columns.
    """
    path = Path(path)
    files = sorted(path.glob("CHEMBL*.csv")) if path.is_dir() else [path]
    if not files:
        raise InputError(f"{path}: no MoleculeACE files (CHEMBL*_Ki.csv / *_EC50.csv) found")
    tables, problems = [], []
    for file in files:
        frame, bad = read_text_table(file)
        problems += bad
        for column in MOLECULEACE_COLUMNS:
            find_column(frame, column, column, file)
        assay = file.stem
        measure = assay.rsplit("_", 1)[-1]
        values, _, reasons = parse_values(frame["y"])
        lines = frame.index.to_numpy()
        for i in np.flatnonzero(reasons != None):  # noqa: E711
            problems.append((int(lines[i]), frame["smiles"].iat[i], "y", reasons[i]))
        keep = reasons == None  # noqa: E711
        table = assay_table(
            lines[keep], frame["smiles"].to_numpy()[keep], assay, values[keep] + 9.0,
            unit=f"p{measure}", source=f"MoleculeACE:{file.name}",
            extra={"split": frame["split"].to_numpy()[keep],
                   "cliff_mol": pd.to_numeric(frame["cliff_mol"], errors="coerce").to_numpy()[keep]},
        )
        tables.append(table)
    table = labelling.assign_labels(pd.concat(tables, ignore_index=True))
    return ReadResult(table, problems_table(problems))


def read_mhc(path: str | Path, allele_column: str | None = None, peptide_column: str | None = None,
             value_column: str | None = None) -> ReadResult:
    """MHC class I binding measurements (MHCflurry / mhcnuggets / epitopepredict layout).

    ``value`` is the IC50 in nM; ``relation`` comes from ``measurement_inequality`` when the
    file has it.  Peptides stay as sequences (``input_type="peptide"``); alleles keep the
    file's spelling (normalising names is the immunology layer's job).
    """
    path = Path(path)
    frame, problems = read_text_table(path, [c or "" for c in (allele_column, peptide_column, value_column)])
    allele_col = find_column(frame, allele_column, "allele", path, ("allele", "mhc", "hla"))
    peptide_col = find_column(frame, peptide_column, "peptide", path, ("peptide", "sequence"))
    value_col = find_column(frame, value_column, "value", path, ("ic50", "ic50(nm)", "measurement_value", "affinity", "value"))
    relation_col = _optional_column(frame, None, ("measurement_inequality", "inequality", "relation"), path)
    values, relations, reasons = parse_values(frame[value_col])
    if relation_col is not None:
        relations = _merge_relations(frame[relation_col], relations, reasons)
    lines = frame.index.to_numpy()
    peptides = frame[peptide_col].to_numpy(dtype=object)
    for i in np.flatnonzero(reasons != None):  # noqa: E711
        column = value_col if reasons[i] == "missing" or "value" in reasons[i] else relation_col
        problems.append((int(lines[i]), peptides[i], column, "missing value" if reasons[i] == "missing" else reasons[i]))
    keep = reasons == None  # noqa: E711
    table = assay_table(lines[keep], peptides[keep], frame[allele_col].to_numpy(dtype=object)[keep], values[keep],
                        input_type="peptide", relation=relations[keep], unit="nM", source=path.name)
    table = labelling.assign_labels(table)
    return ReadResult(table, problems_table(problems))


LINE_LIST_SUFFIXES = (".smi", ".smiles")


def is_line_list(path: str | Path) -> bool:
    """Whether ``path`` lists one molecule per line (SMILES, then optionally a name after
    whitespace) rather than a delimited table: ``.smi``/``.smiles`` files always, ``.txt``
    files unless their first line holds a comma or semicolon (SMILES never do)."""
    path = Path(path)
    suffix = Path(_inner_name(path)).suffix.lower()
    if suffix in LINE_LIST_SUFFIXES:
        return True
    if suffix != ".txt":
        return False
    with open_text(path) as handle:
        first = next((line for line in handle if line.strip()), "")
    return "," not in first and ";" not in first


def iter_line_list(path: str | Path) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` of each line of a one-molecule-per-line file, split on whitespace
    (empty lines give no fields); a first non-empty line whose first field is a SMILES alias
    (``smiles``, ``SMILES Name``) is a header and left out."""
    path = _check_file(path)
    first = True
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.split()
            if first and fields:
                first = False
                if fields[0].lower() in SMILES_ALIASES:
                    continue
            yield number, fields


def read_smiles_list(path: str | Path, smiles_column: str | None = None) -> ReadResult:
    """Unlabelled molecules: a ``.smi``/``.txt`` file (one SMILES per line, optional name after
    whitespace; see :func:`is_line_list`) or a CSV with a SMILES column.  The other columns of
    a CSV (and a ``.smi`` file's names) are identifiers, carried along as extra columns."""
    path = _check_file(path)
    if is_line_list(path):
        items = list(iter_line_list(path))
        problems = [(n, "", "", "empty line") for n, fields in items if not fields]
        items = [(n, fields) for n, fields in items if fields]
        names = [" ".join(fields[1:]) for _, fields in items]
        extra = {"name": np.array(names, dtype=object)} if any(names) else {}
        table = assay_table([n for n, _ in items], [f[0] for _, f in items], "", np.full(len(items), np.nan),
                            source=path.name, extra=extra)
        return ReadResult(table, problems_table(problems), tuple(extra))
    frame, problems = read_text_table(path, [smiles_column or ""])
    smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    identifiers = [c for c in frame.columns if c != smiles_col]
    table = assay_table(frame.index.to_numpy(), frame[smiles_col].to_numpy(), "", np.full(len(frame), np.nan),
                        source=path.name, extra=_carried(frame, identifiers))
    return ReadResult(table, problems_table(problems), tuple(carried_name(c) for c in identifiers))


FORMATS = ("auto", "wide", "long", "moleculeace", "mhc", "smiles", "fsmol")


@dataclass(frozen=True)
class InputSpec:
    """How to read an input file: its format and which columns hold what.

    The names follow Chemprop's options (``--smiles-column``, ``--target-columns``) plus
    ``--assay-column`` and ``--value-column`` for long files; ``None`` means the default.
    """

    format: str = "auto"
    smiles_column: str | None = None
    target_columns: Sequence[str] | None = None
    assay_column: str | None = None
    value_column: str | None = None


#: Rows :func:`sniff_format` reads to tell a list of named molecules from an assay table.
SNIFF_ROWS = 1000


def sniff_format(path: str | Path, smiles_column: str | None = None,
                 target_columns: Sequence[str] | None = None) -> str:
    """Guess a file's format from its name, header and (to tell a molecule list from a wide
    assay table) its first :data:`SNIFF_ROWS` rows.

    A table with a SMILES column whose other columns all hold identifiers
    (:func:`is_identifier_column`: names, ids) is a molecule list (``"smiles"``), unless
    ``target_columns`` name assays.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if fsmol.is_task_layout(path):
        return "fsmol"
    if path.is_dir():
        return "moleculeace"
    if is_line_list(path):
        return "smiles"
    chunks = iter_text_table(path, SNIFF_ROWS, [smiles_column or "", *(target_columns or ())])
    try:
        frame, _ = next(chunks)
    finally:
        chunks.close()
    columns = {c.strip().lower() for c in frame.columns}
    if {"smiles", "y", "cliff_mol", "split"} <= columns:
        return "moleculeace"
    if fsmol.looks_like_long_table(frame):
        return "fsmol"
    if "peptide" in columns and columns & {"allele", "mhc", "hla"}:
        return "mhc"
    if columns & {"assay", "task", "assay_id", "target"} and columns & {"value", "activity", "y", "label", "measurement"}:
        return "long"
    if len(columns) == 1:
        return "smiles"
    if not target_columns and len(frame):
        try:
            smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
        except InputError:
            return "wide"  # reading it says which columns there are
        if all(is_identifier_column(frame[c], c) for c in frame.columns if c != smiles_col):
            return "smiles"
    return "wide"


def read_table(path: str | Path, spec: InputSpec = InputSpec()) -> ReadResult:
    """Read any supported file into the assay schema (format ``"auto"`` sniffs it)."""
    if spec.format not in FORMATS:
        raise InputError(f"unknown format {spec.format!r}; choose one of {', '.join(FORMATS)}")
    kind = sniff_format(path, spec.smiles_column, spec.target_columns) if spec.format == "auto" else spec.format
    if kind == "wide":
        return read_wide(path, spec.smiles_column, spec.target_columns)
    if kind == "long":
        return read_long(path, spec.smiles_column, spec.assay_column, spec.value_column)
    if kind == "moleculeace":
        return read_moleculeace(path)
    if kind == "mhc":
        return read_mhc(path, value_column=spec.value_column)
    if kind == "fsmol":  # a benchmark's own rows: taken as they are (curated)
        table, assays = fsmol.read_fsmol(path)
        return ReadResult(table, problems_table([]), assays=assays, curated=True)
    return read_smiles_list(path, spec.smiles_column)


csv.field_size_limit(1 << 24)  # molecules of thousands of atoms make long SMILES fields
