"""Shared inputs for the data-layer tests: real molecules, peptides and helpers for small files."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
MOLECULEACE_DIR = DATA_DIR / "moleculeace"
MHC_FILE = DATA_DIR / "mhc" / "mhc_class1_human.csv.gz"
MOSES_FILE = DATA_DIR / "moses" / "moses_train_50k.csv.gz"

# Well-known drugs (canonical RDKit SMILES of the parent where it matters).
ETHANOL = "CCO"
ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
IBUPROFEN = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
BENZENE = "c1ccccc1"
METFORMIN_HCL = "CN(C)C(=N)N=C(N)N.Cl"
METFORMIN = "CN(C)C(=N)N=C(N)N"
SODIUM_SALICYLATE = "[Na+].[O-]C(=O)c1ccccc1O"
SALICYLIC_ACID = "O=C(O)c1ccccc1O"

# Bad molecules, each with the start of the reason curation gives.
UNCLOSED_RING = "C1CC"  # unparseable SMILES (syntax error)
PENTAVALENT_C = "C(C)(C)(C)(C)C"  # valence error
BAD_AROMATIC = "c1cccc1"  # kekulisation failure


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def file_lines(path: Path) -> list[str]:
    """The file's lines, numbered as the readers number them (``lines[n - 1]`` is line n)."""
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def moleculeace_head(name: str, n: int) -> list[str]:
    """The header and the first ``n`` data lines of a real MoleculeACE file."""
    with open(MOLECULEACE_DIR / name, encoding="utf-8") as handle:
        return [next(handle).rstrip("\n") for _ in range(n + 1)]


def mhc_rows(predicate, n: int) -> list[list[str]]:
    """The first ``n`` real MHC rows (as lists of fields) for which ``predicate(row)`` holds."""
    out = []
    with gzip.open(MHC_FILE, "rt", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        for row in reader:
            if predicate(row):
                out.append(row)
                if len(out) == n:
                    break
    return out


def moses_smiles(n: int) -> list[str]:
    with gzip.open(MOSES_FILE, "rt", encoding="utf-8") as handle:
        next(handle)
        return [next(handle).strip() for _ in range(n)]
