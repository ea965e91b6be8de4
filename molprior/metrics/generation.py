"""Metrics of a molecular generative model, by their MOSES definitions.

Polykovskiy et al. (2020), "Molecular Sets (MOSES): a benchmarking platform for molecular
generation models", Front. Pharmacol. 11:565644, as implemented in ``moses.metrics``:
``fraction_valid`` (validity), ``fraction_unique`` over the valid molecules (uniqueness),
``novelty`` and ``internal_diversity`` (``1 - average_agg_tanimoto(fps, fps, agg='mean', p=p)``
on Morgan fingerprints, radius 2, 1024 bits). With no valid molecule every metric but
validity is 0.0 (MOSES divides by zero there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from rdkit import Chem
from rdkit.Chem import rdFingerprintGenerator

from molprior.chem.rdkit_log import quiet_rdkit

_FP_SIZE = 1024
_MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=_FP_SIZE)


def _mol(smiles: str) -> Chem.Mol | None:
    """MOSES ``get_mol``: a sanitised molecule with at least one atom, else ``None``."""
    mol = Chem.MolFromSmiles(smiles) if smiles else None
    if mol is None or mol.GetNumAtoms() == 0:
        return None
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # RDKit raises ValueError subclasses and bare RuntimeErrors
        return None
    return mol


def _valid(smiles: Sequence[str]) -> list[Chem.Mol]:
    return [mol for mol in map(_mol, smiles) if mol is not None]


def _canonical(smiles: Iterable[str]) -> set[str]:
    return {Chem.MolToSmiles(mol) for mol in map(_mol, smiles) if mol is not None}


@quiet_rdkit()
def validity(smiles: Sequence[str]) -> float:
    """Fraction of ``smiles`` that parse into a sanitised molecule (0.0 for no input)."""
    return len(_valid(smiles)) / len(smiles) if len(smiles) else 0.0


@quiet_rdkit()
def uniqueness(smiles: Sequence[str]) -> float:
    """Unique canonical SMILES over the number of valid molecules (0.0 if none is valid)."""
    mols = _valid(smiles)
    return len({Chem.MolToSmiles(m) for m in mols}) / len(mols) if mols else 0.0


@quiet_rdkit()
def novelty(
    smiles: Sequence[str], training_smiles: Iterable[str], *, training_is_canonical: bool = False
) -> float:
    """Fraction of the unique valid generated molecules absent from the training set.

    Args:
        smiles: Generated SMILES.
        training_smiles: Training SMILES, canonicalised here unless ``training_is_canonical``.
        training_is_canonical: The training SMILES are already RDKit canonical SMILES.
    """
    generated = _canonical(smiles)
    training = set(training_smiles) if training_is_canonical else _canonical(training_smiles)
    return len(generated - training) / len(generated) if generated else 0.0


def _fingerprints(mols: Sequence[Chem.Mol]) -> np.ndarray:
    """Morgan bits (radius 2, 1024 bits) as a float32 0/1 matrix, one row per molecule."""
    fps = np.zeros((len(mols), _FP_SIZE), dtype=np.float32)
    for row, mol in enumerate(mols):
        fps[row] = _MORGAN.GetFingerprintAsNumPy(mol)
    return fps


def _int_div(fps: np.ndarray, p: int, block_size: int) -> float:
    """``1 - mean_i (mean_j T_ij**p)**(1/p)`` over all ordered pairs, ``block_size`` rows at a time."""
    if len(fps) == 0:
        return 0.0
    counts = fps.sum(axis=1)
    agg = np.empty(len(fps))
    for start in range(0, len(fps), block_size):
        block = fps[start : start + block_size]
        inter = (block @ fps.T).astype(np.float64)
        union = counts[start : start + block_size, None] + counts[None, :] - inter
        with np.errstate(invalid="ignore", divide="ignore"):
            tanimoto = inter / union
        tanimoto[np.isnan(tanimoto)] = 1.0  # two empty fingerprints, as in MOSES
        agg[start : start + len(block)] = (tanimoto**p).mean(axis=1) ** (1.0 / p)
    return float(1.0 - agg.mean())


@quiet_rdkit()
def internal_diversity(smiles: Sequence[str], p: int = 1, *, block_size: int = 1000) -> float:
    """MOSES IntDiv_p of the valid molecules (duplicates kept; 0.0 if none is valid).

    Args:
        smiles: Generated SMILES; invalid ones are dropped.
        p: Power of the Tanimoto similarities (MOSES reports p=1 and p=2).
        block_size: Rows of the similarity matrix computed at once (memory bound).
    """
    return _int_div(_fingerprints(_valid(smiles)), p, block_size)


@quiet_rdkit()
def generation_metrics(
    smiles: Sequence[str],
    training_smiles: Iterable[str] | None = None,
    training_is_canonical: bool = False,
) -> dict[str, float]:
    """Validity, uniqueness, novelty (with a training set), IntDiv_1 and counts, parsing once."""
    mols = _valid(smiles)
    canonical = [Chem.MolToSmiles(m) for m in mols]
    unique = set(canonical)
    metrics: dict[str, float] = {
        "validity": len(mols) / len(smiles) if len(smiles) else 0.0,
        "uniqueness": len(unique) / len(mols) if mols else 0.0,
    }
    if training_smiles is not None:
        training = set(training_smiles) if training_is_canonical else _canonical(training_smiles)
        metrics["novelty"] = len(unique - training) / len(unique) if unique else 0.0
    metrics["internal_diversity"] = _int_div(_fingerprints(mols), 1, 1000)
    metrics["n_generated"] = len(smiles)
    metrics["n_valid"] = len(mols)
    return metrics
