"""Featurised molecules for the neural few-shot methods: graphs plus ECFP bits, by SMILES.

A :class:`MoleculeBank` holds every molecule of a benchmark or a meta-training set once;
episodes address it by position and get PyG batches (with the fingerprint as ``fp``) built
straight from the shared arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import featurize_smiles
from molprior.chem.fingerprints import ecfp
from molprior.chem.graphs import MolGraphs


@dataclass
class MoleculeBank:
    """Graphs (and, with ``fingerprint_bits``, ECFP4 bits) of distinct canonical SMILES."""

    graphs: MolGraphs
    fingerprints: np.ndarray | None = None
    position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.position = {s: i for i, s in enumerate(self.graphs.smiles)}
        if self.fingerprints is not None and len(self.fingerprints) != len(self.graphs):
            raise ValueError("one fingerprint per graph")

    @classmethod
    def build(cls, smiles: Sequence[str], fingerprint_bits: int = 0, n_jobs: int = 1,
              cache: FeatureCache | None = None) -> tuple["MoleculeBank", dict[str, str]]:
        """Featurise ``smiles`` (canonical; duplicates once); returns the bank and, for the
        molecules that could not be featurised, the reason by SMILES."""
        unique = list(dict.fromkeys(smiles))
        result = featurize_smiles(unique, n_jobs=n_jobs, cache=cache)
        errors = {unique[i]: reason for i, reason in result.errors.items()}
        fingerprints = ecfp(result.graphs.smiles, n_bits=fingerprint_bits) if fingerprint_bits else None
        return cls(result.graphs, fingerprints), errors

    def __len__(self) -> int:
        return len(self.graphs)

    def __contains__(self, smiles: str) -> bool:
        return smiles in self.position

    def indices(self, smiles: Sequence[str]) -> np.ndarray:
        """Positions of ``smiles`` in the bank; ``KeyError`` names the first one missing."""
        try:
            return np.fromiter((self.position[s] for s in smiles), dtype=np.int64, count=len(smiles))
        except KeyError as missing:
            raise KeyError(f"molecule {missing.args[0]!r} is not in the bank (it did not featurise)") from None

    def subset(self, smiles: Sequence[str]) -> "MoleculeBank":
        """A bank of just ``smiles`` (distinct, in first-seen order; all must be held here):
        what scoring needs once meta-training no longer does, small enough to send to workers."""
        order = self.indices(list(dict.fromkeys(smiles)))
        return MoleculeBank(self.graphs.select(order),
                            None if self.fingerprints is None else self.fingerprints[order])

    def batch(self, indices: np.ndarray):
        """Molecules ``indices`` as one PyG batch; ``fp`` holds their float fingerprints."""
        indices = np.asarray(indices, dtype=np.int64)
        batch = self.graphs.to_batch(indices)
        if self.fingerprints is not None:
            batch.fp = torch.from_numpy(self.fingerprints[indices].astype(np.float32))
        return batch
