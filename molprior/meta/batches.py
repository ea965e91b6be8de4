"""Featurised inputs for the neural few-shot methods: graphs plus ECFP bits, by input.

A :class:`MoleculeBank` holds every input of a benchmark or a meta-training set once (molecules
by SMILES, or peptides by sequence: any registered :mod:`~molprior.data.input_kinds`, one kind
per bank); episodes address it by position and get PyG batches (with the fingerprint as
``fp``) built straight from the shared arrays.  A :class:`FeatureBank` holds precomputed
features the same way (the MHC model's peptide embeddings: the encoder is the fixed prior there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from molprior.chem.cache import FeatureCache
from molprior.chem.graphs import MolGraphs
from molprior.data.input_kinds import input_kind
from molprior.errors import InputError
from molprior.models.allele_model import PeptideFeatures


def _positions(position: dict[str, int], inputs: Sequence[str], missing: str) -> np.ndarray:
    """Positions of ``inputs``; ``KeyError`` names the first one missing (``missing`` with
    ``{}`` where the input goes)."""
    try:
        return np.fromiter((position[s] for s in inputs), dtype=np.int64, count=len(inputs))
    except KeyError as absent:
        raise KeyError(missing.format(repr(absent.args[0]))) from None


@dataclass
class MoleculeBank:
    """Graphs (and, with ``fingerprint_bits``, ECFP4 bits) of distinct inputs of one kind
    (canonical SMILES unless ``kind`` says otherwise)."""

    graphs: MolGraphs
    fingerprints: np.ndarray | None = None
    kind: str = "smiles"
    position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.position = {s: i for i, s in enumerate(self.graphs.smiles)}
        if self.fingerprints is not None and len(self.fingerprints) != len(self.graphs):
            raise ValueError("one fingerprint per graph")

    @classmethod
    def build(cls, inputs: Sequence[str], fingerprint_bits: int = 0, n_jobs: int = 1,
              cache: FeatureCache | None = None, kind: str = "smiles") -> tuple["MoleculeBank", dict[str, str]]:
        """Featurise ``inputs`` of ``kind`` (canonical SMILES by default; duplicates once);
        returns the bank and, for the inputs that could not be featurised, the reason by input."""
        featurised = input_kind(kind)
        graphs, errors = featurised.featurise(list(dict.fromkeys(inputs)), n_jobs, cache)
        fingerprints = None
        if fingerprint_bits:
            fingerprints, failed = featurised.fingerprints(graphs.smiles, fingerprint_bits)
            if failed:  # featurised, yet no fingerprint
                position, reason = next(iter(failed.items()))
                raise InputError(f"{reason} (position {position})")
        return cls(graphs, fingerprints, kind), errors

    def __len__(self) -> int:
        return len(self.graphs)

    def __contains__(self, smiles: str) -> bool:
        return smiles in self.position

    def indices(self, smiles: Sequence[str]) -> np.ndarray:
        """Positions of ``smiles`` in the bank; ``KeyError`` names the first one missing."""
        return _positions(self.position, smiles, "molecule {} is not in the bank (it did not featurise)")

    def subset(self, smiles: Sequence[str], fingerprint_bits: int | None = None) -> "MoleculeBank":
        """A bank of just ``smiles`` (distinct, in first-seen order; all must be held here):
        what scoring needs once meta-training no longer does, small enough to send to workers.
        ``fingerprint_bits`` (0: none) asks for fingerprints of that size (computed when this
        bank holds another); ``None`` keeps this bank's."""
        order = self.indices(list(dict.fromkeys(smiles)))
        graphs = self.graphs.select(order)
        fingerprints = None if self.fingerprints is None else self.fingerprints[order]
        held = 0 if fingerprints is None else fingerprints.shape[1]
        if fingerprint_bits is not None and fingerprint_bits != held:
            fingerprints = input_kind(self.kind).fingerprints(graphs.smiles, fingerprint_bits)[0] \
                if fingerprint_bits else None
        return MoleculeBank(graphs, fingerprints, self.kind)

    def batch(self, indices: np.ndarray):
        """Molecules ``indices`` as one PyG batch; ``fp`` holds their float fingerprints."""
        indices = np.asarray(indices, dtype=np.int64)
        batch = self.graphs.to_batch(indices)
        if self.fingerprints is not None:
            batch.fp = torch.from_numpy(self.fingerprints[indices].astype(np.float32))
        return batch


@dataclass
class FeatureBank:
    """Precomputed features of distinct inputs, one row each (the MHC model's peptide
    embeddings), read as :class:`MoleculeBank` is: positions by input, batches of rows."""

    features: torch.Tensor
    inputs: Sequence[str]
    position: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if len(self.inputs) != len(self.features):
            raise ValueError("one row of features per input")
        self.position = {s: i for i, s in enumerate(self.inputs)}

    def __len__(self) -> int:
        return len(self.inputs)

    def __contains__(self, item: str) -> bool:
        return item in self.position

    def indices(self, inputs: Sequence[str]) -> np.ndarray:
        """Rows of ``inputs``; ``KeyError`` names the first one missing."""
        return _positions(self.position, inputs, "{} has no features in the bank")

    def batch(self, indices: np.ndarray) -> PeptideFeatures:
        """Rows ``indices`` as the encoder-less task model's input."""
        return PeptideFeatures(self.features[torch.from_numpy(np.asarray(indices, dtype=np.int64))])


#: What episodes address by position: graphs (assays) or precomputed features (alleles).
Bank = MoleculeBank | FeatureBank
