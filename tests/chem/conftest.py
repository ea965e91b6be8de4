"""Shared real-molecule fixtures for the chemistry tests (MoleculeACE and MOSES data in data/)."""

from __future__ import annotations

import random
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

DATA = Path(__file__).resolve().parents[2] / "data"

#: A few marketed drugs, written the way RDKit writes them canonically.
DRUGS = {
    "aspirin": "CC(=O)Oc1ccccc1C(=O)O",
    "paracetamol": "CC(=O)Nc1ccc(O)cc1",
    "ibuprofen": "CC(C)Cc1ccc(C(C)C(=O)O)cc1",
    "caffeine": "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "diclofenac": "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl",
    "metformin": "CN(C)C(=N)NC(=N)N",
    "imatinib": "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",
    "testosterone": "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
}


@pytest.fixture(scope="session")
def drugs() -> dict[str, str]:
    return dict(DRUGS)


@pytest.fixture(scope="session")
def moleculeace_smiles() -> list[str]:
    files = sorted((DATA / "moleculeace").glob("*.csv"))
    assert len(files) >= 10, "the MoleculeACE data sets are missing from data/moleculeace"
    smiles: list[str] = []
    for path in files:
        smiles += pd.read_csv(path)["smiles"].tolist()
    return smiles


@pytest.fixture(scope="session")
def moses_smiles() -> list[str]:
    smiles = pd.read_csv(DATA / "moses" / "moses_train_50k.csv.gz")["smiles"].tolist()
    assert len(smiles) > 10_000
    return smiles


@pytest.fixture(scope="session")
def fsmol_smiles() -> list[str]:
    """FS-Mol's SMILES as ChEMBL gave them (salts, charges, metals, explicit Hs among them)."""
    smiles = pd.read_csv(DATA / "fsmol" / "fsmol.csv.gz", usecols=["smiles"])["smiles"]
    return list(dict.fromkeys(smiles))


@pytest.fixture(scope="session")
def real_canonical_smiles(moleculeace_smiles, moses_smiles) -> list[str]:
    """About 2,000 distinct RDKit-canonical SMILES: 1,000 MoleculeACE plus 1,000 MOSES molecules."""
    rng = random.Random(20240607)
    picked = rng.sample(sorted(set(moleculeace_smiles)), 1000) + rng.sample(moses_smiles, 1000)
    canonical = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in picked]
    return list(dict.fromkeys(canonical))
