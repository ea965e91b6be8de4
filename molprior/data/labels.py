"""Binary labels for assay measurements.

Rules, per assay:

* values that are all 0/1 (MoleculeNet classification columns): the label is the value;
* MHC binding (peptides, IC50 in nM): a binder is < 500 nM (``BINDER_NM``);
* any other assay: binarised at its median, as in FS-Mol.  For potency-like units
  (``pKi``, ``pIC50``, log units, no unit) higher is more active (label = value >= median);
  for concentrations (``nM``, ``uM``, ``M``) lower is more active (label = value <= median).

A censored measurement (``<``/``>``) gets a label only when its bound decides the side of
the threshold; otherwise the label is NaN (undetermined).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BINDER_NM = 500.0
CONCENTRATION_UNITS = {"nm", "um", "µm", "mm", "m", "pm"}


def lower_is_active(unit: str) -> bool:
    return str(unit).strip().lower() in CONCENTRATION_UNITS


def threshold_labels(values: np.ndarray, relations: np.ndarray, threshold: float, lower_active: bool,
                     strict: bool = False) -> np.ndarray:
    """Label each measurement against ``threshold``; censored ones only when decided.

    A value equal to the threshold is active unless ``strict`` (MHC: a binder is *below*
    500 nM).  Missing values get NaN.
    """
    values = np.asarray(values, dtype=np.float64)
    relations = np.asarray(relations, dtype=object)
    labels = np.full(len(values), np.nan)
    finite = ~np.isnan(values)
    exact = (relations == "=") & finite
    below = (relations == "<") & finite
    above = (relations == ">") & finite
    if lower_active:
        labels[exact] = values[exact] < threshold if strict else values[exact] <= threshold
        labels[below & (values <= threshold)] = 1.0
        labels[above & (values >= threshold)] = 0.0
    else:
        labels[exact] = values[exact] >= threshold
        labels[below & (values <= threshold)] = 0.0
        labels[above & (values >= threshold)] = 1.0
    return labels


def is_binary(values: np.ndarray, relations: np.ndarray) -> bool:
    """Whether an assay's measurements are 0/1 labels (all exact, all 0 or 1)."""
    values = np.asarray(values, dtype=np.float64)
    finite = ~np.isnan(values)
    return bool(finite.any() and np.isin(values[finite], (0.0, 1.0)).all()
                and (np.asarray(relations, dtype=object)[finite] == "=").all())


def assay_threshold(values: np.ndarray, relations: np.ndarray) -> float:
    """The median of an assay's exact measurements (of all of them if none is exact)."""
    values = np.asarray(values, dtype=np.float64)
    exact = np.asarray(relations, dtype=object) == "="
    return float(np.median(values[exact] if exact.any() else values))


def assign_labels(table: pd.DataFrame) -> pd.DataFrame:
    """Return ``table`` with its ``label`` column filled by the rules in the module docstring."""
    table = table.copy()
    if table.empty:
        return table
    labels = np.full(len(table), np.nan)
    for _, index in table.groupby("assay", sort=False).indices.items():
        rows = table.iloc[index]
        values = rows["value"].to_numpy(dtype=np.float64)
        relations = rows["relation"].to_numpy(dtype=object)
        finite = ~np.isnan(values)
        if not finite.any():
            continue
        unit = str(rows["unit"].iat[0])
        if (rows["input_type"] == "peptide").all() and unit.lower() == "nm":
            labels[index] = threshold_labels(values, relations, BINDER_NM, lower_active=True, strict=True)
        elif is_binary(values, relations):
            labels[index] = values
        else:
            threshold = assay_threshold(values[finite], relations[finite])
            labels[index] = threshold_labels(values, relations, threshold, lower_is_active(unit))
    table["label"] = labels
    return table
