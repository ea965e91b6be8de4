"""Small real few-shot inputs for the meta-training, adaptation and benchmark tests."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

MOLECULEACE_DIR = Path(__file__).resolve().parents[1] / "data" / "moleculeace"
#: Five real MoleculeACE assays: three to meta-train on, one to validate, one to test.
TRAIN = ["CHEMBL233_Ki", "CHEMBL236_Ki", "CHEMBL237_Ki"]
VAL = ["CHEMBL1871_Ki"]
TEST = ["CHEMBL2047_EC50"]
#: A tiny model and schedule so that a meta-training run takes seconds on CPU.
TINY = {"prior": "random", "encoder": {"hidden_dim": 32, "num_layers": 2}, "head": {"hidden_dim": 32, "fingerprint_dim": 2048},
        "support_sizes": [16], "query_size": 32, "tasks_per_step": 2, "steps_per_epoch": 5, "val_draws": 2,
        "trainer": {"max_epochs": 2}}


def long_file(path: Path, rows_per_assay: int = 80) -> Path:
    """``smiles,assay,value`` rows (pKi/pEC50 as in MoleculeACE's ``y``) of the five assays."""
    frames = []
    for assay in TRAIN + VAL + TEST:
        frame = pd.read_csv(MOLECULEACE_DIR / f"{assay}.csv").head(rows_per_assay)
        frames.append(pd.DataFrame({"smiles": frame["smiles"], "assay": assay, "value": frame["y"]}))
    pd.concat(frames).to_csv(path, index=False)
    return path


def support_file(path: Path, assay: str = "CHEMBL2047_EC50", n: int = 32, offset: int = 0) -> Path:
    frame = pd.read_csv(MOLECULEACE_DIR / f"{assay}.csv").iloc[offset:offset + n]
    frame[["smiles", "y"]].rename(columns={"y": "pEC50"}).to_csv(path, index=False)
    return path


def fsmol_subset(directory: Path, train: int = 24, valid: int = 2, test: int = 2, rows_per_task: int = 64) -> Path:
    """A small piece of the embedded FS-Mol copy (its first described tasks of each split, the
    first ``rows_per_task / 2`` measurements of each class, the task table beside them), in
    FS-Mol's long-table layout: ``directory/fsmol.csv.gz``."""
    from molprior.data.fsmol import MEASUREMENTS_FILE, TASKS_FILE, read_tasks, task_description

    source = Path(__file__).resolve().parents[1] / "data" / "fsmol"
    tasks = read_tasks(source / TASKS_FILE)
    tasks = tasks[[bool(task_description(row)) for row in tasks.to_dict("records")]]
    chosen = pd.concat([tasks[tasks["split"] == split].head(n) for split, n in
                        (("train", train), ("valid", valid), ("test", test))])
    measurements = pd.read_csv(source / MEASUREMENTS_FILE, dtype=str, keep_default_na=False)
    chosen_rows = measurements[measurements["assay"].isin(chosen["assay"])]
    # FS-Mol's files list a task's molecules in no random order: the first of each class
    rows = chosen_rows.groupby(["assay", "label"], sort=False).head(rows_per_task // 2).sort_index()
    directory.mkdir(parents=True, exist_ok=True)
    rows.to_csv(directory / MEASUREMENTS_FILE, index=False)
    chosen.to_csv(directory / TASKS_FILE, index=False)
    return directory / MEASUREMENTS_FILE
