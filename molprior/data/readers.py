"""Readers from the file formats chemists and immunologists bring into the assay schema.

Every reader returns a :class:`ReadResult`: the long table (see :mod:`molprior.data.schema`)
and a table of problems (line, input, column, reason) for rows it could not take.  Bad
cells never stop a read; only a file that cannot be read at all, or a missing column,
raises :class:`InputError` (naming the columns the file does have).

Column options follow Chemprop: ``smiles_column``, ``target_columns``; long files also take
``assay_column`` and ``value_column``.
"""

from __future__ import annotations

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

from molprior.data import labels as labelling
from molprior.data.schema import assay_table, empty_table, problems_table

SMILES_ALIASES = ("smiles", "smile", "canonical_smiles", "mol", "molecule", "structure")

_VALUE = re.compile(r"^\s*(<=|>=|<|>|=|~)?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_MISSING = {"", "nan", "na", "n/a", "none", "null"}


class InputError(ValueError):
    """An input file that cannot be read as asked (missing file, missing column, ...)."""


@dataclass
class ReadResult:
    """A table in the assay schema and the rows that could not be read."""

    table: pd.DataFrame
    problems: pd.DataFrame


def open_text(path: Path) -> io.TextIOBase:
    """Open a (possibly gzip- or zip-compressed) text file; bad UTF-8 bytes become U+FFFD."""
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", errors="replace", newline="")
    if path.suffix == ".zip":
        archive = zipfile.ZipFile(path)
        members = [n for n in archive.namelist() if not n.endswith("/")]
        if len(members) != 1:
            raise InputError(f"{path} holds {len(members)} files; expected exactly one")
        return io.TextIOWrapper(archive.open(members[0]), encoding="utf-8", errors="replace", newline="")
    return open(path, encoding="utf-8", errors="replace", newline="")


def read_text_table(path: str | Path) -> tuple[pd.DataFrame, list[tuple]]:
    """Read a delimited file as strings; the frame's index is each row's line in the file.

    Bytes that are not UTF-8 become U+FFFD, so the rows that hold them can be reported.
    Empty lines and lines whose number of fields differs from the header's are returned
    as problems ``(line, input, column, reason)`` and left out of the frame.
    """
    frames, problems = [], []
    for frame, chunk_problems in iter_text_table(path):
        frames.append(frame)
        problems += chunk_problems
    return (pd.concat(frames) if len(frames) > 1 else frames[0]), problems


def iter_text_table(path: str | Path, chunk_rows: int | None = None) -> Iterator[tuple[pd.DataFrame, list[tuple]]]:
    """:func:`read_text_table` in pieces of at most ``chunk_rows`` rows (all at once when
    ``None``), so a file of any size is read with bounded memory.  Yields at least one
    (possibly empty) frame, each with the header's columns."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        raise InputError(f"{path} is a directory, expected a file")
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    sep = "\t" if name.endswith((".tsv", ".tab")) else ","
    with open_text(path) as handle:
        reader = csv.reader(handle, delimiter=sep)
        header = next(reader, None)
        while header == []:
            header = next(reader, None)
        if header is None:
            raise InputError(f"{path} is empty")
        header = [h.strip() for h in header]
        if len(set(header)) != len(header):
            duplicated = sorted({h for h in header if header.count(h) > 1})
            raise InputError(f"{path.name}: duplicated column names {duplicated}")
        problems: list[tuple] = []
        rows: list[list[str]] = []
        lines: list[int] = []
        previous = reader.line_num
        yielded = False
        for row in reader:
            line = previous + 1  # first physical line of this record
            previous = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                problems.append((line, "", "", "empty line"))
            elif len(row) != len(header):
                problems.append((line, sep.join(row), "",
                                 f"malformed line: {len(row)} fields, the header has {len(header)}"))
            else:
                rows.append(row)
                lines.append(line)
            if chunk_rows and len(rows) + len(problems) >= chunk_rows:
                yield _text_frame(rows, lines, header), problems
                rows, lines, problems, yielded = [], [], [], True
        if rows or problems or not yielded:
            yield _text_frame(rows, lines, header), problems


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


def read_wide(
    path: str | Path,
    smiles_column: str | None = None,
    target_columns: Sequence[str] | None = None,
    source: str | None = None,
) -> ReadResult:
    """A multi-task file: one SMILES column, one column per assay; blank cells are unmeasured."""
    path = Path(path)
    frame, problems = read_text_table(path)
    smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    if target_columns:
        targets = [find_column(frame, t, "target", path) for t in target_columns]
    else:
        targets = [c for c in frame.columns if c != smiles_col]
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
                                  relation=relations[keep], source=source or path.name))
    for i in np.flatnonzero(~measured & ~reported):
        problems.append((int(lines[i]), frame[smiles_col].iat[i], "", "no measurement in any target column"))
    table = pd.concat(pieces, ignore_index=True) if pieces else empty_table()
    table = table.sort_values(["line", "assay"], kind="stable").reset_index(drop=True)
    table = labelling.assign_labels(table)
    return ReadResult(table, problems_table(problems))


def read_long(
    path: str | Path,
    smiles_column: str | None = None,
    assay_column: str | None = None,
    value_column: str | None = None,
    relation_column: str | None = None,
    unit_column: str | None = None,
    source: str | None = None,
) -> ReadResult:
    """A long file: one measurement per line (``smiles,assay,value`` and optional relation/unit)."""
    path = Path(path)
    frame, problems = read_text_table(path)
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
    table = assay_table(lines[keep], frame[smiles_col].to_numpy()[keep], assays[keep], values[keep],
                        relation=relations[keep], unit=units, source=source or path.name)
    table = labelling.assign_labels(table)
    return ReadResult(table, problems_table(problems))


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
    frame, problems = read_text_table(path)
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


def read_smiles_list(path: str | Path, smiles_column: str | None = None) -> ReadResult:
    """Unlabelled molecules: a ``.smi``/``.txt`` file (one SMILES per line, optional name after
    whitespace) or a CSV with a SMILES column."""
    path = Path(path)
    if path.suffix.lower() in {".smi", ".txt", ".smiles"}:
        raw = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        first = raw[0].split()[0].lower() if raw and raw[0].split() else ""
        start = 1 if first in SMILES_ALIASES else 0
        items = [(n + 1, line.strip().split()[0] if line.strip() else "") for n, line in enumerate(raw) if n >= start]
        problems = [(n, "", "", "empty line") for n, s in items if not s]
        items = [(n, s) for n, s in items if s]
        table = assay_table([n for n, _ in items], [s for _, s in items], "", np.full(len(items), np.nan),
                            source=path.name)
        return ReadResult(table, problems_table(problems))
    frame, problems = read_text_table(path)
    smiles_col = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    table = assay_table(frame.index.to_numpy(), frame[smiles_col].to_numpy(), "", np.full(len(frame), np.nan),
                        source=path.name)
    return ReadResult(table, problems_table(problems))


FORMATS = ("auto", "wide", "long", "moleculeace", "mhc", "smiles")


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


def sniff_format(path: str | Path) -> str:
    """Guess a file's format from its name and header."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.is_dir():
        return "moleculeace"
    if path.suffix.lower() in {".smi", ".smiles"}:
        return "smiles"
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    with open_text(path) as handle:
        header = next(csv.reader(handle, delimiter="\t" if name.endswith((".tsv", ".tab")) else ","), [])
    if not header:
        raise InputError(f"{path} is empty: cannot read the header")
    columns = {c.strip().lower() for c in header}
    if {"smiles", "y", "cliff_mol", "split"} <= columns:
        return "moleculeace"
    if "peptide" in columns and columns & {"allele", "mhc", "hla"}:
        return "mhc"
    if columns & {"assay", "task", "assay_id", "target"} and columns & {"value", "activity", "y", "label", "measurement"}:
        return "long"
    if path.suffix.lower() == ".txt" and len(columns) == 1:
        return "smiles"
    if len(columns) == 1:
        return "smiles"
    return "wide"


def read_table(path: str | Path, spec: InputSpec = InputSpec()) -> ReadResult:
    """Read any supported file into the assay schema (format ``"auto"`` sniffs it)."""
    if spec.format not in FORMATS:
        raise InputError(f"unknown format {spec.format!r}; choose one of {', '.join(FORMATS)}")
    kind = sniff_format(path) if spec.format == "auto" else spec.format
    if kind == "wide":
        return read_wide(path, spec.smiles_column, spec.target_columns)
    if kind == "long":
        return read_long(path, spec.smiles_column, spec.assay_column, spec.value_column)
    if kind == "moleculeace":
        return read_moleculeace(path)
    if kind == "mhc":
        return read_mhc(path, value_column=spec.value_column)
    return read_smiles_list(path, spec.smiles_column)


csv.field_size_limit(1 << 24)  # molecules of thousands of atoms make long SMILES fields
