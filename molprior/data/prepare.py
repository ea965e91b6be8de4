"""Read -> standardise -> merge duplicates: the one path every command takes into the schema."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from molprior.data.curation import CurationOptions, standardize_table
from molprior.data.duplicates import aggregate_duplicates
from molprior.data import catalog
from molprior.data.readers import InputSpec, ReadResult, read_table, sniff_format
from molprior.data.schema import problems_table


@dataclass
class PreparedTable:
    """A standardised, de-duplicated assay table and everything that was set aside."""

    format: str
    table: pd.DataFrame  # the schema of molprior.data.schema, plus a notes column
    rejected: pd.DataFrame  # line, input, column, reason
    duplicates: pd.DataFrame  # the merge report of molprior.data.duplicates
    measurements_read: int
    identifiers: tuple[str, ...] = ()  # input columns carried along (names, ids), not measurements
    input_assays: tuple[str, ...] = ()  # the assays in input order, as the reader saw them

    @property
    def assays(self) -> list[str]:
        """The table's assays in input order (a wide file's column order; otherwise the order
        in which they first appear): what ``START:STOP`` ranges of assays count in."""
        present = list(dict.fromkeys(self.table["assay"]))
        known = set(present)
        ordered = [a for a in self.input_assays if a in known]
        seen = set(ordered)
        return ordered + [a for a in present if a not in seen]

    @property
    def assay_groups(self) -> dict[str, list[str]]:
        """Named groups of assays that assay lists may use: FS-Mol's splits as ``split:train``,
        ``split:valid`` and ``split:test``."""
        if self.format != "fsmol" or "split" not in self.table.columns:
            return {}
        splits = self.table.drop_duplicates("assay").groupby("split", sort=False)["assay"]
        return {f"split:{name}": list(assays) for name, assays in splits}


DATASET_PREFIX = "dataset:"


def read_input(path: str | Path, spec: InputSpec = InputSpec()) -> tuple[ReadResult, str]:
    """Read a file, or a catalog dataset named ``dataset:NAME`` (MoleculeNet through deepchem's
    loaders; the others from the copy embedded under ``data/`` where there is one, else from
    their fetched files).  Returns the result and the format used."""
    text = str(path)
    if text.startswith(DATASET_PREFIX):
        name = text[len(DATASET_PREFIX):]
        dataset = catalog.get(name)
        if dataset.loader:
            from molprior.data.moleculenet import load_moleculenet

            return load_moleculenet(name), "moleculenet"
        if not dataset.reader:
            raise catalog.DatasetError(f"{name} can be fetched (molprior data fetch {name}) but not read as a table yet")
        path = catalog.embedded_copy(dataset) or catalog.fetch(name)
        if spec.format == "auto":
            spec = replace(spec, format=dataset.reader)
    kind = sniff_format(path, spec.smiles_column, spec.target_columns) if spec.format == "auto" else spec.format
    return read_table(path, replace(spec, format=kind)), kind


def prepare_table(
    path: str | Path,
    spec: InputSpec = InputSpec(),
    options: CurationOptions = CurationOptions(),
    n_jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    on_read: Callable[[int], None] | None = None,
) -> PreparedTable:
    """Read ``path`` in any supported format and standardise it (see ``molprior data check``).

    ``on_read`` is told how many distinct inputs will be standardised, before it starts.
    """
    result, kind = read_input(path, spec)
    if result.curated:  # a benchmark's own rows (FS-Mol): its draws index exactly these
        table = result.table if "notes" in result.table else result.table.assign(notes="")
        merged, problems, report = table, problems_table([]), aggregate_duplicates(result.table[:0])[1]
    else:
        if on_read:
            on_read(int(result.table[["input_type", "input"]].drop_duplicates().shape[0]))
        kept, problems = standardize_table(result.table, options, n_jobs=n_jobs, progress=progress)
        merged, report = aggregate_duplicates(kept)
    rejected = pd.concat([result.problems, problems], ignore_index=True)
    rejected = rejected.drop_duplicates().sort_values("line", kind="stable").reset_index(drop=True)
    return PreparedTable(kind, merged, rejected, report, len(result.table), tuple(result.identifiers),
                         tuple(result.assays))
