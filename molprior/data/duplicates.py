"""Merge repeated measurements of one molecule in one assay, by a documented rule.

Rows are duplicates when they share canonical SMILES and assay (so two spellings of
one molecule, or a salt and its parent, count as one).  For each group:

1. Exact measurements (``=``) win over censored ones, which are then set aside.
2. Binary assays (values 0/1): majority vote; a tie is a conflict and the group is
   dropped.
3. Other exact values are averaged: the geometric mean for concentrations (nM, uM, ...),
   the arithmetic mean otherwise (p-values and other log-scale units).  The group is
   flagged as conflicting when the values span more than ``CONFLICT_LOG_UNITS`` log10
   units (10-fold), but kept.
4. Only censored values: all ``<`` keeps the smallest bound, all ``>`` the largest;
   a mix of ``<`` and ``>`` is a conflict and the group is dropped.

Every merged group is reported (lines, values, the action taken, whether it conflicted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from molprior.data import labels as labelling

CONFLICT_LOG_UNITS = 1.0
REPORT_COLUMNS = ("smiles", "assay", "n_measurements", "lines", "values", "relations", "action", "conflict")


def _merge(values: np.ndarray, relations: np.ndarray, unit: str, binary: bool) -> tuple[float | None, str, str, bool]:
    """(value, relation, action, conflict) for one group of an assay (``binary``: a 0/1
    assay); value ``None`` drops the group."""
    exact = relations == "="
    if exact.any():
        v = values[exact]
        if binary:
            ones, zeros = int((v == 1).sum()), int((v == 0).sum())
            if ones == zeros:
                return None, "=", f"dropped: {ones} active vs {zeros} inactive labels", True
            return float(ones > zeros), "=", "majority vote", bool(ones and zeros)
        if labelling.lower_is_active(unit):
            if (v <= 0).any():
                return float(np.mean(v)), "=", "arithmetic mean (non-positive concentration)", True
            logs = np.log10(v)
            merged, spread = float(10 ** logs.mean()), float(logs.max() - logs.min())
            action = "geometric mean"
        else:
            merged, spread = float(v.mean()), float(v.max() - v.min())
            action = "mean"
        if not exact.all():
            action += f" of {int(exact.sum())} exact values (censored set aside)"
        return merged, "=", action, spread > CONFLICT_LOG_UNITS
    if (relations == "<").all():
        return float(values.min()), "<", "tightest upper bound", False
    if (relations == ">").all():
        return float(values.max()), ">", "tightest lower bound", False
    return None, "=", "dropped: mixed '<' and '>' bounds", True


def aggregate_duplicates(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Merge duplicates by the module's rule; return ``(table, report)``.

    Rows without a measurement (unlabelled molecules) are de-duplicated on SMILES alone.
    """
    if table.empty:
        return table.copy(), pd.DataFrame(columns=list(REPORT_COLUMNS))
    keyed = table.assign(_key=table["smiles"].astype(str) + "\x00" + table["assay"].astype(str))
    sizes = keyed.groupby("_key", sort=False)["_key"].transform("size")
    single = keyed[sizes == 1]
    repeated = keyed[sizes > 1]
    binary_assays = {assay for assay, rows in keyed.groupby("assay", sort=False)
                     if labelling.is_binary(rows["value"].to_numpy(dtype=np.float64), rows["relation"].to_numpy(dtype=object))}
    merged_rows, report = [], []
    for _, group in repeated.groupby("_key", sort=False):
        values = group["value"].to_numpy(dtype=np.float64)
        relations = group["relation"].to_numpy(dtype=object)
        lines = ";".join(str(x) for x in group["line"])
        first = group.iloc[0].copy()
        if np.isnan(values).all():  # unlabelled duplicates
            merged_rows.append(first)
            report.append((first["smiles"], first["assay"], len(group), lines, "", "", "kept first (no values)", False))
            continue
        value, relation, action, conflict = _merge(values[~np.isnan(values)], relations[~np.isnan(values)],
                                                   str(first["unit"]), first["assay"] in binary_assays)
        report.append((first["smiles"], first["assay"], len(group), lines,
                       ";".join(f"{v:g}" for v in values), ";".join(relations), action, conflict))
        if value is None:
            continue
        first["value"], first["relation"] = value, relation
        merged_rows.append(first)
    out = pd.concat([single, pd.DataFrame(merged_rows)], ignore_index=True) if merged_rows else single
    out = out.drop(columns="_key").sort_values("line", kind="stable").reset_index(drop=True)
    if "value" in out and out["value"].notna().any():
        out = labelling.assign_labels(out)
    return out, pd.DataFrame(report, columns=list(REPORT_COLUMNS))
