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
