"""The MHC class I affinity predictor: peptide encoder, shared body, one head per allele (and a
body adapter for alleles with many measurements), and each allele's reference score
distribution for percentile ranks (saved and loaded by :mod:`molprior.serialization.mhc`).

A peptide is embedded once (graph encoder, :mod:`molprior.models.peptide_encoder`), the shared
body runs once, and every allele of a genotype is one small head on the body's output (alleles
with their own body adapter rerun the small body on the same embedding): scoring a peptide
against six alleles costs little more than against one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from molprior.chem.amino_acids import random_peptides
from molprior.data.mhc import score_to_ic50
from molprior.files import atomic_path
from molprior.meta.allele_learner import AFFINITY
from molprior.meta.learner import FewShotLearner
from molprior.models.allele_model import PeptideFeatures
from molprior.models.body_adapter import adapted_body
from molprior.models.fixed_blocks import rowwise_in_fixed_blocks
from molprior.models.peptide_encoder import PeptideEncoder

QUANTILES = 1001  # reference score quantiles per allele and length (0.1% steps)
REFERENCE_PER_LENGTH = 5000


@dataclass
class PeptideBody:
    """What the allele heads read for a batch of peptides: their embeddings and the shared
    body's output (rows in the same order; indexable like a tensor).  Without embeddings
    (``None``) only alleles without a body adapter can be scored."""

    embedding: torch.Tensor | None
    shared: torch.Tensor

    def __len__(self) -> int:
        return self.shared.shape[0]

    def __getitem__(self, rows) -> "PeptideBody":
        return PeptideBody(None if self.embedding is None else self.embedding[rows], self.shared[rows])


@dataclass
class MHCPredictor:
    """Everything needed to score peptides against the alleles it knows."""

    peptide_encoder: PeptideEncoder
    learner: FewShotLearner  # the allele learner (task type affinity)
    heads: dict[str, dict[str, torch.Tensor]]  # allele -> head parameters (fast weights)
    alleles: dict[str, dict] = field(default_factory=dict)  # allele -> measurements, origin
    reference: dict[str, np.ndarray] = field(default_factory=dict)  # allele -> lengths x QUANTILES
    metadata: dict = field(default_factory=dict)
    bodies: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # allele -> body adapter
    _materialised: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict, repr=False)

    @property
    def lengths(self) -> tuple[int, int]:
        return self.peptide_encoder.lengths

    @property
    def supported(self) -> list[str]:
        return sorted(self.heads)

    @torch.inference_mode()
    def body(self, peptides: Sequence[str], batch_size: int = 64) -> PeptideBody:
        """Embeddings and shared body output for peptides (what every allele's head reads)."""
        embeddings = self.peptide_encoder.embed(list(peptides), batch_size)
        shared = rowwise_in_fixed_blocks(lambda rows: self.learner.model.represent(PeptideFeatures(rows)), embeddings)
        return PeptideBody(embeddings, shared)

    def set_body_adapter(self, allele: str, adapter: dict[str, torch.Tensor] | None) -> None:
        """Give ``allele`` its own body adapter (``None``: back to the shared body)."""
        self._materialised.pop(allele, None)
        if adapter is None:
            self.bodies.pop(allele, None)
        else:
            self.bodies[allele] = adapter

    @torch.inference_mode()
    def scores_from_body(self, body: PeptideBody, allele: str) -> np.ndarray:
        """Transformed affinities (0-1) of one allele from :meth:`body`'s output."""
        model = self.learner.model
        representation = body.shared
        if allele in self.bodies:
            if body.embedding is None:
                raise ValueError(f"{allele} has its own body adapter: scoring it needs the peptide embeddings")
            if allele not in self._materialised:
                self._materialised[allele] = adapted_body(model.body, self.bodies[allele])
            body_params = self._materialised[allele]
            representation = rowwise_in_fixed_blocks(
                lambda rows: torch.func.functional_call(model.body, body_params, (rows,)), body.embedding)
        head = self.heads[allele]
        logits = rowwise_in_fixed_blocks(lambda rows: torch.func.functional_call(model.head, head, (rows,)),
                                         representation)
        return AFFINITY.output(logits).numpy().astype(np.float64)

    def predict_ic50(self, peptides: Sequence[str], allele: str) -> np.ndarray:
        """Predicted IC50 (nM) of peptides for one allele."""
        return score_to_ic50(self.scores_from_body(self.body(peptides), allele))

    def percentile(self, allele: str, lengths: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Percentile rank (0-100; lower binds better) of each score among the allele's reference
        peptides of the same length: the share of random natural-frequency peptides predicted
        to bind at least as well."""
        table = self.reference[allele]
        low = self.lengths[0]
        ranks = np.empty(len(scores))
        grid = np.linspace(0.0, 100.0, table.shape[1])
        for length in np.unique(lengths):
            rows = lengths == length
            quantiles = table[int(np.clip(length, *self.lengths)) - low]
            ranks[rows] = 100.0 - np.interp(scores[rows], quantiles, grid)
        return ranks

    def set_reference(self, allele: str, reference_body: dict[int, PeptideBody]) -> None:
        """Store ``allele``'s score quantiles on the reference peptides (body outputs by length)."""
        levels = np.linspace(0.0, 1.0, QUANTILES)
        self.reference[allele] = np.stack([np.quantile(self.scores_from_body(reference_body[length], allele), levels)
                                           for length in range(self.lengths[0], self.lengths[1] + 1)])

    def reference_body(self, per_length: int = REFERENCE_PER_LENGTH, seed: int = 0) -> dict[int, PeptideBody]:
        """Body outputs of the reference set: ``per_length`` random peptides of each supported
        length, residues drawn from natural amino-acid frequencies (seeded: the same set for every
        model)."""
        rng = np.random.default_rng(seed)
        return {length: self.body(random_peptides(per_length, length, rng))
                for length in range(self.lengths[0], self.lengths[1] + 1)}

    def shared_reference_body(self, per_length: int = REFERENCE_PER_LENGTH, seed: int = 0,
                              cache_dir: str | Path | None = None) -> dict[int, PeptideBody]:
        """:meth:`reference_body` without the embeddings (enough for an allele without a body
        adapter, e.g. one ``molprior peptides adapt`` adds), cached on disk by the encoder's and
        the shared body's weights: adapting the next allele of the same model skips embedding
        the reference peptides."""
        key = hashlib.sha256(json.dumps([per_length, seed, list(self.lengths)]).encode())
        for module in (self.peptide_encoder, self.learner.model.body):
            for name, tensor in module.state_dict().items():
                key.update(name.encode())
                key.update(tensor.detach().cpu().contiguous().numpy().tobytes())
        path = Path(cache_dir or reference_cache_dir()) / f"{key.hexdigest()[:24]}.npz"
        if path.exists():
            with np.load(path) as stored:
                return {int(length): PeptideBody(None, torch.from_numpy(stored[length])) for length in stored.files}
        reference = {length: PeptideBody(None, body.shared) for length, body in self.reference_body(per_length, seed).items()}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **{str(length): body.shared.numpy() for length, body in reference.items()})
        return reference


def reference_cache_dir() -> Path:
    """``$MOLPRIOR_CACHE_DIR/mhc-reference`` or ``~/.cache/molprior/mhc-reference``."""
    from molprior.chem.cache import default_cache_dir

    return default_cache_dir().parent / "mhc-reference"
