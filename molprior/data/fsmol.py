"""FS-Mol (Stanley et al., NeurIPS Datasets and Benchmarks 2021): its tasks, read as they are.

Two layouts carry the same measurements:

* FS-Mol's own: a directory (or the figshare ``fsmol.tar``) holding ``train/``, ``valid/`` and
  ``test/`` folders of ``CHEMBLxxxx.jsonl.gz`` files, one task a file, one molecule a line
  (``SMILES``, ``Property``, ``LogRegressionProperty``, ``Relation``, ``AssayType`` and
  precomputed features, which are not read);
* the compact long table (molprior's embedded copy, ``data/fsmol/fsmol.csv.gz``): one
  measurement a line, columns :data:`LONG_COLUMNS`, tasks in :func:`in_task_order`.

A task keeps FS-Mol's rows in FS-Mol's order, FS-Mol's binary label (its per-task threshold)
and FS-Mol's molecules (already cleaned by FS-Mol's pipeline): they are not standardised again
and the repeated molecules FS-Mol left in some tasks are not merged, because FS-Mol's support
draws are indices into exactly these rows (:func:`molprior.data.episodes.fsmol_episode`).

Task metadata (target, protein class, EC class) comes from FS-Mol's ``target_info.csv``
(:func:`read_target_info`); :func:`task_table` joins it to the tasks.
"""

from __future__ import annotations

import ast
import gzip
import io
import json
import re
import tarfile
from pathlib import Path
from typing import Iterator, Mapping

import numpy as np
import pandas as pd

from molprior.chem.rdkit_log import quiet_rdkit
from molprior.data.schema import assay_table
from molprior.errors import InputError

SPLITS = ("train", "valid", "test")
#: The compact long table's columns (``value``: FS-Mol's ``LogRegressionProperty``, pXC50;
#: ``relation``: ChEMBL's, on the measured concentration).
LONG_COLUMNS = ("split", "assay", "smiles", "label", "value", "relation")
#: The embedded copy's file names (beside each other under ``data/fsmol/``).
MEASUREMENTS_FILE = "fsmol.csv.gz"
TASKS_FILE = "fsmol_tasks.csv"
#: Per-task columns of :func:`task_table`.
TASK_COLUMNS = ("assay", "split", "assay_type", "n_molecules", "fraction_positive", "target_id", "target_name",
                "organism", "protein_class", "protein_super_family", "protein_family", "ec_class", "ec_class_name",
                "protein_class_desc", "ec_name", "ec_number")
#: Carried onto every measurement of the assay schema (per-family reporting and zero-shot
#: heads need them; ``description`` is :func:`task_description`'s).
CARRIED_TASK_COLUMNS = ("assay_type", "target_name", "protein_class", "description")
#: ChEMBL's assay types, as a description says them.
ASSAY_TYPE_NAMES = {"B": "binding assay", "F": "functional assay", "A": "ADMET assay", "T": "toxicity assay",
                    "P": "physicochemical assay", "U": "unclassified assay"}
#: The task metadata naming the target (a task with none of them is not described).
TARGET_FIELDS = ("ec_name", "ec_number", "target_name", "protein_class_desc")
TAR_SNIFF_MEMBERS = 20
_TASK_FILE = re.compile(r"(?:^|/)(train|valid|test)/(CHEMBL\d+)\.jsonl\.gz$")
#: ChEMBL's relation is on the concentration; on the pXC50 scale (minus its log) it turns round.
PXC50_RELATION = {"=": "=", "~": "=", ">": "<", ">=": "<", ">>": "<", "<": ">", "<=": ">", "<<": ">"}


class FsMolError(InputError):
    """A path that holds no FS-Mol tasks in either layout."""


def is_task_layout(path: str | Path) -> bool:
    """Whether ``path`` is FS-Mol's own layout: a directory with split folders, or a tar whose
    first files are FS-Mol task files."""
    path = Path(path)
    if path.is_dir():
        return any((path / split).is_dir() for split in SPLITS)
    if not (path.name.endswith(".tar") or path.name.endswith(".tar.gz")) or not path.is_file():
        return False
    try:
        with tarfile.open(path) as archive:
            for _, member in zip(range(TAR_SNIFF_MEMBERS), archive):
                if member.isfile() and _TASK_FILE.search(member.name):
                    return True
    except (tarfile.TarError, OSError):
        return False
    return False


def _task_file_rows(handle: io.BufferedIOBase, split: str, assay: str) -> list[tuple]:
    rows = []
    with gzip.open(handle, "rt", encoding="utf-8") as lines:
        for text in lines:
            if not text.strip():
                continue
            record = json.loads(text)
            value = record.get("LogRegressionProperty")
            rows.append((split, assay, record["SMILES"], float(record["Property"]),
                         float(value) if value not in (None, "") else np.nan, record.get("Relation") or "=",
                         record.get("AssayType") or ""))
    return rows


def _task_files(path: Path) -> Iterator[tuple[str, str, io.BufferedIOBase]]:
    """``(split, assay, open file)`` for every task file, splits in FS-Mol's order, then by name."""
    if path.is_dir():
        found = [(m.group(1), m.group(2), file) for file in path.rglob("CHEMBL*.jsonl.gz")
                 if (m := _TASK_FILE.search(file.relative_to(path).as_posix()))]
        for split, assay, file in sorted(found, key=lambda t: (SPLITS.index(t[0]), t[1])):
            with open(file, "rb") as handle:
                yield split, assay, handle
        return
    with tarfile.open(path) as archive:
        members = [(m.group(1), m.group(2), member) for member in archive.getmembers()
                   if member.isfile() and (m := _TASK_FILE.search(member.name))]
        for split, assay, member in sorted(members, key=lambda t: (SPLITS.index(t[0]), t[1])):
            yield split, assay, archive.extractfile(member)


def read_task_files(path: str | Path) -> pd.DataFrame:
    """Every task of FS-Mol's own layout (directory or tar) as a long table: the
    :data:`LONG_COLUMNS` plus ``assay_type``, rows in FS-Mol's order."""
    path = Path(path)
    rows: list[tuple] = []
    for split, assay, handle in _task_files(path):
        rows += _task_file_rows(handle, split, assay)
    if not rows:
        raise FsMolError(f"{path}: no FS-Mol task files (train/ valid/ test/ CHEMBLxxxx.jsonl.gz)")
    return pd.DataFrame(rows, columns=[*LONG_COLUMNS, "assay_type"])


def read_long_table(path: str | Path) -> pd.DataFrame:
    """The compact long table (:data:`LONG_COLUMNS`; ``assay_type`` where the file has it)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.columns = [c.strip().lower() for c in frame.columns]
    missing = [c for c in LONG_COLUMNS if c not in frame.columns]
    if missing:
        raise FsMolError(f"{path}: not an FS-Mol long table, missing columns {missing} (has {list(frame.columns)})")
    frame["label"] = pd.to_numeric(frame["label"], errors="raise").astype(np.float64)
    frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    return frame


def looks_like_long_table(frame: pd.DataFrame) -> bool:
    """Whether the first rows of a CSV are FS-Mol's long table: its columns, FS-Mol's split
    names and 0/1 labels."""
    columns = {c.strip().lower(): c for c in frame.columns}
    if not set(LONG_COLUMNS) <= set(columns) or frame.empty:
        return False
    splits = set(frame[columns["split"]].astype(str).str.strip())
    labels = set(frame[columns["label"]].astype(str).str.strip())
    return splits <= set(SPLITS) and labels <= {"0", "1", "0.0", "1.0"}


def read_measurements(path: str | Path) -> pd.DataFrame:
    """FS-Mol's measurements from either layout."""
    return read_task_files(path) if is_task_layout(path) else read_long_table(path)


def in_task_order(measurements: pd.DataFrame) -> pd.DataFrame:
    """Tasks by split (train, valid, test), then by name, as FS-Mol's files are listed; each
    task's rows in their own order (the order FS-Mol's draws index)."""
    rank = measurements["split"].map({s: i for i, s in enumerate(SPLITS)})
    return measurements.assign(_rank=rank).sort_values(["_rank", "assay"], kind="stable").drop(columns="_rank")


def protein_class(super_family: object, ec_class_name: object) -> str:
    """The class a task is reported under: ``kinase`` for protein kinases (most of FS-Mol's
    test tasks), otherwise the EC class name (``hydrolase``, ``oxidoreductase``, ...), else
    the protein super family, else ``unknown``."""
    for value in (super_family if str(super_family) == "kinase" else None, ec_class_name, super_family):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return "unknown"


def read_target_info(path: str | Path) -> pd.DataFrame:
    """FS-Mol's ``target_info.csv``: one row per assay with its target and protein class."""
    info = pd.read_csv(path, dtype=str, keep_default_na=False)
    if "chembl_id" not in info.columns:
        raise FsMolError(f"{path}: not FS-Mol's target_info.csv (no chembl_id column)")
    get = lambda column: info[column] if column in info.columns else pd.Series("", index=info.index)  # noqa: E731
    return pd.DataFrame({
        "assay": info["chembl_id"], "target_id": get("target_id"), "target_name": get("pref_name"),
        "organism": get("assay_organism"), "info_assay_type": get("assay_type"),
        "protein_class": [protein_class(s, e) for s, e in zip(get("protein_super_family"), get("EC_super_class_name"))],
        "protein_super_family": get("protein_super_family"), "protein_family": get("protein_family"),
        "ec_class": get("EC_super_class"), "ec_class_name": get("EC_super_class_name"),
        "protein_class_desc": get("protein_class_desc").map(listed), "ec_name": get("EC_name").map(listed),
        "ec_number": [listed(v) if t == "EC_NUMBER" else "" for v, t in zip(get("component_synonym"), get("type_synonym"))],
    }).drop_duplicates("assay")


def listed(value: str) -> str:
    """A ``target_info.csv`` cell as text: a target of several components is written there as a
    Python tuple (``('2.7.11.1', '2.7.12.2')``), here as its items joined by ``"; "``; the
    levels of ChEMBL's protein classification, separated there by two spaces, by ``" > "``."""
    text = value.strip()
    items: object = (text,)
    if text.startswith("(") and text.endswith(")"):
        try:
            items = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            items = (text,)
        if not isinstance(items, tuple):
            items = (text,)
    levels = (" > ".join(part for part in re.split(r"\s{2,}", str(item).strip()) if part) for item in items)
    return "; ".join(level for level in levels if level)


def task_description(task: Mapping[str, str]) -> str:
    """A task's description from FS-Mol's metadata (a row of :func:`task_table`): its target's
    EC name and number, ChEMBL's name of its protein class and the classification's levels,
    the organism and the assay type, e.g. ``"Acetylcholinesterase; EC 3.1.1.7; Hydrolase;
    enzyme > hydrolase; Homo sapiens; binding assay"``.  Empty when the metadata names no
    target (the assay type alone describes no task)."""
    def field_(name: str) -> str:
        value = task.get(name, "")
        return value.strip() if isinstance(value, str) else ""

    if not any(field_(name) for name in TARGET_FIELDS):
        return ""
    parts = [field_("ec_name"), f"EC {field_('ec_number')}" if field_("ec_number") else "", field_("target_name"),
             field_("protein_class_desc"), field_("organism"), ASSAY_TYPE_NAMES.get(field_("assay_type"), "")]
    return "; ".join(dict.fromkeys(p for p in parts if p))


def task_table(measurements: pd.DataFrame, info: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per task (:data:`TASK_COLUMNS`), in the measurements' order, metadata joined."""
    grouped = measurements.groupby("assay", sort=False)
    tasks = pd.DataFrame({
        "assay": list(grouped.groups),
        "split": grouped["split"].first().to_numpy(),
        "assay_type": grouped["assay_type"].first().to_numpy() if "assay_type" in measurements else "",
        "n_molecules": grouped.size().to_numpy(),
        "fraction_positive": grouped["label"].mean().round(6).to_numpy(),
    })
    if info is not None:
        tasks = tasks.merge(info, on="assay", how="left")
        if "info_assay_type" in tasks:  # the measurements' own, else target_info's
            tasks["assay_type"] = tasks["assay_type"].replace("", np.nan).fillna(tasks["info_assay_type"])
    for column in TASK_COLUMNS:
        if column not in tasks.columns:
            tasks[column] = ""
    tasks = tasks[list(TASK_COLUMNS)].fillna("")
    tasks.loc[tasks["protein_class"] == "", "protein_class"] = "unknown"
    return tasks


def read_tasks(path: str | Path) -> pd.DataFrame:
    """A task table written by :func:`task_table` (the embedded ``fsmol_tasks.csv``)."""
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def tasks_beside(path: str | Path) -> pd.DataFrame | None:
    """The task table stored beside a measurements file or inside a task directory, if any."""
    path = Path(path)
    candidate = (path if path.is_dir() else path.parent) / TASKS_FILE
    return read_tasks(candidate) if candidate.exists() else None


@quiet_rdkit()
def phosphorus_hydride_repaired(smiles: str) -> str | None:
    """FS-Mol's SMILES for phosphonic and phosphinic acids in the P-H oxide form current RDKit
    rejects (``C[PH](=O)(=O)O``: pentavalent P carrying H and two P=O), rewritten as the P-OH
    tautomer chemists mean (``CP(=O)(O)O``; adefovir, the bisphosphonates); ``None`` when the
    SMILES holds no such group or still does not parse."""
    from rdkit import Chem, rdBase

    if "[PH]" not in smiles:
        return None
    blocked = rdBase.BlockLogs()  # RDKit's complaints about the form being repaired
    try:
        mol = Chem.MolFromSmiles(smiles, sanitize=False)
        if mol is None:
            return None
        changed = False
        for atom in mol.GetAtoms():
            if atom.GetSymbol() != "P" or atom.GetNumExplicitHs() != 1:
                continue
            oxo = [b for b in atom.GetBonds() if b.GetBondType() == Chem.BondType.DOUBLE
                   and b.GetOtherAtom(atom).GetSymbol() == "O" and b.GetOtherAtom(atom).GetDegree() == 1]
            if len(oxo) >= 2:
                oxo[0].SetBondType(Chem.BondType.SINGLE)
                oxo[0].GetOtherAtom(atom).SetNumExplicitHs(1)
                atom.SetNumExplicitHs(0)
                changed = True
        if not changed:
            return None
        Chem.SanitizeMol(mol)
        return Chem.MolToSmiles(mol)
    except Exception:  # RDKit raises several kinds on a molecule it cannot sanitise
        return None
    finally:
        del blocked


@quiet_rdkit()
def readable_smiles(smiles: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """The SMILES the pipeline reads for FS-Mol's molecules: FS-Mol's own, except those current
    RDKit cannot parse that :func:`phosphorus_hydride_repaired` rewrites; and a note per row."""
    from rdkit import Chem, rdBase

    out = smiles.to_numpy(dtype=object).copy()
    notes = np.full(len(out), "", dtype=object)
    candidates = {s for s in set(smiles) if "[PH]" in s}
    blocked = rdBase.BlockLogs()
    repaired = {s: r for s in candidates if Chem.MolFromSmiles(s) is None
                and (r := phosphorus_hydride_repaired(s)) is not None}
    del blocked
    for i in np.flatnonzero(smiles.isin(list(repaired)).to_numpy()):
        out[i] = repaired[smiles.iat[i]]
        notes[i] = "P-H oxide written as its P-OH tautomer (current RDKit rejects FS-Mol's form)"
    return out, notes


def to_schema(measurements: pd.DataFrame, tasks: pd.DataFrame | None, source: str) -> pd.DataFrame:
    """FS-Mol's measurements in the assay schema, its molecules kept as given (``smiles`` is
    ``input``, but for the P-H oxides of :func:`readable_smiles`, noted in ``notes``), FS-Mol's label, the pXC50 as ``value`` with its relation turned to that scale,
    and the :data:`CARRIED_TASK_COLUMNS` of each task."""
    if tasks is None:
        tasks = task_table(measurements)
    per_task = tasks.set_index("assay")
    per_task = per_task.assign(description=[task_description(row) for row in per_task.to_dict("records")])
    extra = {}
    for column in CARRIED_TASK_COLUMNS:
        mapping = per_task[column] if column in per_task.columns else pd.Series(dtype=str)
        extra[column] = measurements["assay"].map(mapping).fillna("").to_numpy(dtype=object)
    extra["split"] = measurements["split"].to_numpy(dtype=object)
    relation = measurements["relation"].fillna("=").str.strip().map(PXC50_RELATION).fillna("=")
    table = assay_table(np.arange(len(measurements)) + 2, measurements["smiles"].to_numpy(dtype=object),
                        measurements["assay"].to_numpy(dtype=object), measurements["value"].to_numpy(np.float64),
                        relation=relation.to_numpy(dtype=object), unit="pXC50",
                        label=measurements["label"].to_numpy(np.float64), source=source, extra=extra)
    table["smiles"], table["notes"] = readable_smiles(measurements["smiles"].reset_index(drop=True))
    return table


def read_fsmol(path: str | Path) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """FS-Mol in either layout in the assay schema (:func:`to_schema`, the task table stored
    beside it joined) and its assays in order."""
    path = Path(path)
    measurements = read_measurements(path)
    table = to_schema(measurements, tasks_beside(path), f"FS-Mol:{path.name}")
    return table, tuple(dict.fromkeys(measurements["assay"]))
