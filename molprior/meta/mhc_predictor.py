"""The MHC class I affinity predictor: peptide encoder and the one scorer
(:mod:`molprior.meta.scorer`) over the allele model, with one head per allele (and a body
adapter for alleles with many measurements), and each allele's reference score distribution
for percentile ranks (saved and loaded by :mod:`molprior.serialization.mhc`).

A peptide is embedded once (graph encoder, :mod:`molprior.models.peptide_encoder`), the shared
body runs once, and every allele of a genotype is one small head on the body's output (alleles
with their own body adapter rerun the body on the same embedding): scoring a peptide against
six alleles costs little more than against one.  What is MHC's own here is the post-processing:
IC50s and percentile ranks among random natural-frequency peptides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from molprior.data.mhc import score_to_ic50
from molprior.files import atomic_path
from molprior.immunology.amino_acids import random_peptides
from molprior.immunology.body_adapter import adapted_body
from molprior.immunology.percentiles import REFERENCE_PER_LENGTH, percentile_ranks, quantile_table
from molprior.meta.learner import Adapted, FewShotLearner
from molprior.meta.scorer import FeatureRows, Representation, Scorer
from molprior.models.peptide_encoder import PeptideEncoder



def allele_head(learner: FewShotLearner, head: dict[str, torch.Tensor],
                adapter: dict[str, torch.Tensor] | None = None) -> Adapted:
    """An allele's head for the scorer: its head parameters (in the head's own names) and, with
    a body ``adapter``, the body's parameters under it."""
    params = {f"head.{name}": value for name, value in head.items()}
    if adapter is not None:
        params.update({f"body.{name}": value for name, value in adapted_body(learner.model.body, adapter).items()})
    return Adapted(params)


@dataclass
class MHCPredictor:
    """Everything needed to score peptides against the alleles it knows."""

    peptide_encoder: PeptideEncoder
    scorer: Scorer  # the allele learner (task type affinity) and one head per allele
    alleles: dict[str, dict] = field(default_factory=dict)  # allele -> measurements, origin
    reference: dict[str, np.ndarray] = field(default_factory=dict)  # allele -> lengths x QUANTILES
    metadata: dict = field(default_factory=dict)
    adapters: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # allele -> body adapter

    @classmethod
    def build(cls, peptide_encoder: PeptideEncoder, learner: FewShotLearner, heads: dict[str, dict[str, torch.Tensor]],
              alleles: dict[str, dict] | None = None, reference: dict[str, np.ndarray] | None = None,
              metadata: dict | None = None, adapters: dict[str, dict[str, torch.Tensor]] | None = None
              ) -> "MHCPredictor":
        """A predictor from each allele's head parameters (the head's own names) and body adapters."""
        predictor = cls(peptide_encoder, Scorer(learner), dict(alleles or {}), dict(reference or {}),
                        dict(metadata or {}))
        for allele, head in heads.items():
            predictor.set_head(allele, head, (adapters or {}).get(allele))
        return predictor

    @property
    def learner(self) -> FewShotLearner:
        return self.scorer.learner

    @property
    def device(self) -> torch.device:
        return self.scorer.device

    def to(self, device: str | torch.device) -> "MHCPredictor":
        """Embed and score on ``device`` (e.g. ``cuda``); scores come back to the CPU."""
        self.peptide_encoder.to(device)
        self.scorer.to(device)
        return self

    def set_head(self, allele: str, head: dict[str, torch.Tensor],
                 adapter: dict[str, torch.Tensor] | None = None) -> None:
        """Give ``allele`` this head and body adapter (``None``: the shared body)."""
        if adapter is None:
            self.adapters.pop(allele, None)
        else:
            self.adapters[allele] = adapter
        self.scorer.heads[allele] = allele_head(self.learner, head, adapter)

    def head(self, allele: str) -> dict[str, torch.Tensor]:
        """``allele``'s head parameters, in the head's own names (what model files keep)."""
        return self.scorer.heads[allele].head()

    @property
    def lengths(self) -> tuple[int, int]:
        return self.peptide_encoder.lengths

    @property
    def supported(self) -> list[str]:
        return self.scorer.names

    @torch.inference_mode()
    def body(self, peptides: Sequence[str], batch_size: int | None = None, shared: bool | None = None) -> Representation:
        """Embeddings of peptides and the shared body's output (what alleles without a body
        adapter read; computed when such an allele is known, or as ``shared`` says)."""
        return self.scorer.represent(FeatureRows(self.peptide_encoder.embed(list(peptides), batch_size)), shared)

    def scores_from_body(self, body: Representation, allele: str) -> np.ndarray:
        """Transformed affinities (0-1) of one allele from :meth:`body`'s output."""
        return self.scorer.outputs(body, allele)[0]

    def predict_ic50(self, peptides: Sequence[str], allele: str) -> np.ndarray:
        """Predicted IC50 (nM) of peptides for one allele."""
        return score_to_ic50(self.scores_from_body(self.body(peptides), allele))

    def percentile(self, allele: str, lengths: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Percentile rank (0-100; lower binds better) of each score among the allele's reference
        peptides of the same length (:mod:`molprior.immunology.percentiles`)."""
        return percentile_ranks(self.reference[allele], self.lengths, lengths, scores)

    def set_reference(self, allele: str, reference_body: dict[int, Representation]) -> None:
        """Store ``allele``'s score quantiles on the reference peptides (body outputs by length)."""
        self.reference[allele] = quantile_table([self.scores_from_body(reference_body[length], allele)
                                                 for length in range(self.lengths[0], self.lengths[1] + 1)])

    def reference_body(self, per_length: int = REFERENCE_PER_LENGTH, seed: int = 0) -> dict[int, Representation]:
        """Body outputs of the reference set: ``per_length`` random peptides of each supported
        length, residues drawn from natural amino-acid frequencies (seeded: the same set for every
        model)."""
        rng = np.random.default_rng(seed)
        return {length: self.body(random_peptides(per_length, length, rng), shared=True)
                for length in range(self.lengths[0], self.lengths[1] + 1)}

    def shared_reference_body(self, per_length: int = REFERENCE_PER_LENGTH, seed: int = 0,
                              cache_dir: str | Path | None = None) -> dict[int, Representation]:
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
                return {int(length): Representation(None, torch.from_numpy(stored[length])) for length in stored.files}
        reference = {length: Representation(None, body.shared)
                     for length, body in self.reference_body(per_length, seed).items()}
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as handle:
                np.savez(handle, **{str(length): body.shared.numpy() for length, body in reference.items()})
        return reference


def reference_cache_dir() -> Path:
    """``$MOLPRIOR_CACHE_DIR/mhc-reference`` or ``~/.cache/molprior/mhc-reference``."""
    from molprior.chem.cache import default_cache_dir

    return default_cache_dir().parent / "mhc-reference"
