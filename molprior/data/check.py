"""``molprior data check``: validate and standardise an input file, report every bad row.

Writes into the output directory (each file atomically):

* ``standardized.csv`` -- the assay table (schema in :mod:`molprior.data.schema`) with
  canonical SMILES, duplicates merged, and the input's identifier columns (names, ids: text
  columns that are not measurements) carried along after the schema's columns;
* ``rejected.csv`` -- one row per rejected input line: line, input (for a malformed line, the
  line's text), column, reason;
* ``duplicates.csv`` -- every merged group and the rule applied (see
  :mod:`molprior.data.duplicates`);
* ``summary.json`` -- counts.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from molprior.data.curation import CurationOptions
from molprior.data.prepare import DATASET_PREFIX, prepare_table
from molprior.data.readers import InputSpec
from molprior.files import check_output_path, write_csv, write_text

OUTPUT_FILES = ("standardized.csv", "rejected.csv", "duplicates.csv", "summary.json")


@dataclass
class CheckSummary:
    input: str
    format: str
    measurements_read: int
    rows_rejected: int
    molecules_kept: int
    measurements_kept: int
    duplicate_groups: int
    conflicting_groups: int
    assays: int
    outputs: dict[str, str]
    #: input columns carried along beside the molecules (names, ids), not read as measurements
    identifier_columns: list[str] = field(default_factory=list)


def check_file(
    path: str | Path,
    output_dir: str | Path,
    spec: InputSpec = InputSpec(),
    options: CurationOptions = CurationOptions(),
    n_jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> CheckSummary:
    """Read, standardise and de-duplicate ``path``; write the results into ``output_dir``
    (refused before reading when it is a file or would replace the input)."""
    check_output_path(output_dir, [] if str(path).startswith(DATASET_PREFIX) else [path], directory=True,
                      files=OUTPUT_FILES)
    prepared = prepare_table(path, spec, options, n_jobs, progress, on_read)
    merged, rejected, report = prepared.table, prepared.rejected, prepared.duplicates
    out = Path(output_dir)
    outputs = {
        "standardized": str(write_csv(merged, out / "standardized.csv")),
        "rejected": str(write_csv(rejected, out / "rejected.csv")),
        "duplicates": str(write_csv(report, out / "duplicates.csv")),
    }
    summary = CheckSummary(
        input=str(path),
        format=prepared.format,
        measurements_read=prepared.measurements_read,
        rows_rejected=int(rejected["line"].nunique()) if len(rejected) else 0,
        molecules_kept=int(merged["smiles"].nunique()) if len(merged) else 0,
        measurements_kept=len(merged),
        duplicate_groups=len(report),
        conflicting_groups=int(report["conflict"].sum()) if len(report) else 0,
        assays=int(merged["assay"].nunique()) if len(merged) else 0,
        outputs=outputs,
        identifier_columns=list(prepared.identifiers),
    )
    outputs["summary"] = str(out / "summary.json")
    write_text(json.dumps(asdict(summary), indent=2) + "\n", out / "summary.json")
    return summary
