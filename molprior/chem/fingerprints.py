"""Morgan (ECFP) fingerprints as NumPy arrays, and Tanimoto similarity between sets of them."""

from __future__ import annotations

from functools import lru_cache
from typing import Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator


@lru_cache(maxsize=8)
def _generator(radius: int, n_bits: int):
    return rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)


def ecfp(smiles: Sequence[str], radius: int = 2, n_bits: int = 2048) -> np.ndarray:
    """ECFP bit vectors (ECFP4 by default: radius 2, 2048 bits) as a uint8 matrix.

    Raises ``ValueError`` naming the first SMILES RDKit cannot parse.
    """
    generator = _generator(radius, n_bits)
    out = np.zeros((len(smiles), n_bits), dtype=np.uint8)
    for i, s in enumerate(smiles):
        mol = Chem.MolFromSmiles(s)
        if mol is None:
            raise ValueError(f"cannot compute a fingerprint for unparseable SMILES {s!r} (position {i})")
        out[i] = generator.GetFingerprintAsNumPy(mol)
    return out


def tanimoto(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Tanimoto similarity of every row of ``a`` with every row of ``b`` (binary matrices)."""
    a = a.astype(np.float32)
    b = b.astype(np.float32)
    shared = a @ b.T
    union = a.sum(1)[:, None] + b.sum(1)[None, :] - shared
    return np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
