"""The one internal assay schema: a long table, one row per measurement.

=============  ==========================================================================
column         meaning
=============  ==========================================================================
``line``       line of the input file the measurement came from (the header is line 1)
``input``      the molecule exactly as given: a SMILES string or a peptide sequence
``input_type`` ``"smiles"`` or ``"peptide"``
``smiles``     canonical SMILES after standardisation (empty until standardised)
``assay``      assay (task) identifier: a target, a MoleculeNet column, an MHC allele
``value``      the measurement as a float (NaN for unlabelled molecules)
``relation``   ``"="``, ``"<"`` or ``">"`` (censored measurements)
``unit``       unit of ``value`` (``pKi``, ``nM``, ``binary``, ...), empty when unknown
``label``      binary label (1 active / binder, 0 inactive, NaN when undetermined)
``source``     where the row came from (file name, or dataset name)
=============  ==========================================================================

Readers may add extra columns after these (MoleculeACE's ``split`` and ``cliff_mol``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprior.errors import InputError

COLUMNS = ("line", "input", "input_type", "smiles", "assay", "value", "relation", "unit", "label", "source")
RELATIONS = ("=", "<", ">")
#: Integer codes of the relations, as the censored losses read them: "=" exact, "<" the true value
#: is below the bound, ">" the true value is above it.
EXACT, BELOW, ABOVE = 0, 1, 2
RELATION_CODES = {"=": EXACT, "<": BELOW, ">": ABOVE}
PROBLEM_COLUMNS = ("line", "input", "column", "reason")


def assay_table(
    line,
    input,
    assay,
    value,
    *,
    input_type: str = "smiles",
    relation="=",
    unit: str = "",
    label=np.nan,
    source: str = "",
    extra: dict | None = None,
) -> pd.DataFrame:
    """Build a table in the schema from column values (scalars broadcast)."""
    frame = pd.DataFrame(
        {
            "line": np.asarray(line, dtype=np.int64),
            "input": pd.Series(input, dtype=object).to_numpy(),
            "input_type": input_type,
            "smiles": "",
            "assay": pd.Series(assay, dtype=object).astype(str).to_numpy() if not np.isscalar(assay) else assay,
            "value": np.asarray(value, dtype=np.float64),
            "relation": relation,
            "unit": unit,
            "label": np.asarray(label, dtype=np.float64) if not np.isscalar(label) else float(label),
            "source": source,
        }
    )
    for name, values in (extra or {}).items():
        frame[name] = values
    return frame


def empty_table() -> pd.DataFrame:
    return assay_table([], [], [], [])


def problems_table(rows: list[tuple]) -> pd.DataFrame:
    """Rejected rows: ``(line, input, column, reason)`` tuples."""
    frame = pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS))
    frame["line"] = frame["line"].astype(np.int64)
    return frame


def validate(table: pd.DataFrame) -> None:
    """Raise ``ValueError`` when ``table`` lacks a schema column or has a bad relation."""
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"assay table lacks columns {missing}")
    bad = set(table["relation"].unique()) - set(RELATIONS)
    if bad:
        raise InputError(f"unknown relations {sorted(bad)}; expected one of {RELATIONS}")
