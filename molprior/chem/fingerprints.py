"""Morgan (ECFP) fingerprints as NumPy arrays, and Tanimoto similarity between sets of them."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molprior.chem.rdkit_log import quiet_rdkit
from molprior.errors import InputError


@lru_cache(maxsize=8)
def morgan_generator(radius: int, n_bits: int):
    """RDKit's Morgan generator for ``radius`` and ``n_bits`` (built once per process)."""
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def ecfp_of_mols(mols: Sequence[Chem.Mol | None], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """ECFP bit vectors of RDKit molecules as a uint8 matrix (a row of zeros for ``None``)."""
    generator = morgan_generator(radius, n_bits)
    out = np.zeros((len(mols), n_bits), dtype=np.uint8)
    for i, mol in enumerate(mols):
        if mol is not None:
            out[i] = generator.GetFingerprintAsNumPy(mol)
    return out


@quiet_rdkit()
def ecfp_with_errors(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> tuple[np.ndarray, dict[int, str]]:
    """ECFP bit vectors as a uint8 matrix, and the reason by position for each SMILES RDKit
    cannot parse (its row stays zero)."""
    smiles = list(smiles)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    errors: dict[int, str] = {}
    for start in range(0, len(smiles), 1024):  # a block of molecules at a time: bounded memory
        mols = [Chem.MolFromSmiles(s) if isinstance(s, str) else None for s in smiles[start:start + 1024]]
        errors.update({start + i: f"cannot compute a fingerprint for unparseable SMILES {smiles[start + i]!r}"
                       for i, mol in enumerate(mols) if mol is None})
        out[start:start + len(mols)] = ecfp_of_mols(mols, radius, n_bits)
    return out, errors


def ecfp(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """ECFP bit vectors (ECFP4 by default: radius 2, 2048 bits) as a uint8 matrix, for SMILES
    known to parse (standardised ones).

    Raises ``ValueError`` naming the first SMILES RDKit cannot parse.
    """
    out, errors = ecfp_with_errors(smiles, radius, n_bits)
    if errors:
        position, reason = next(iter(errors.items()))
        raise InputError(f"{reason} (position {position})")
    return out


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of every row of ``a`` with every row of ``b`` (binary matrices)."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    shared = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
