"""A few-shot model adapted to one assay, ready to score lists of molecules.

:class:`AssayScorer` is the whole inference path: standardise each SMILES as training did,
featurise it, run the one scorer (:mod:`molprior.meta.scorer`; one head, named by the assay)
and measure how close each molecule lies to the support set.  It needs no training code, no
files beyond the model directory and no MLflow, so the CLI, the pyfunc model and a Spark UDF
all score identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from molprior.chem.fingerprints import ecfp, tanimoto
from molprior.data.curation import standardize_items
from molprior.data.leakage import load_seen
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import Adapted, FewShotLearner
from molprior.meta.scorer import BankRows, Scorer
from molprior.serialization import ModelFormatError, load_learner

SUPPORT_FILE = "support.csv"
#: The predictive standard deviation of a model's score where it has one (a GP head's, on the
#: ``±1`` label scale: near the kernel's output scale far from the support, smaller close to
#: it); NaN for models without one.
UNCERTAINTY = "uncertainty"
BATCH = 4096  # molecules featurised at a time (the forward pass takes fixed blocks of them)


@dataclass
class AssayScorer:
    """The scorer of a model adapted to one assay, plus the fingerprints of its support."""

    scorer: Scorer
    support_fingerprints: np.ndarray | None
    description: dict
    seen: np.ndarray | None = None  # hashed keys of the meta-training molecules (molprior.data.leakage)

    @classmethod
    def load(cls, directory: str | Path) -> "AssayScorer":
        """The adapted model in ``directory`` (checksums verified before loading)."""
        directory = Path(directory)
        learner, description = load_learner(directory)
        if not description.get("adapted"):
            raise ModelFormatError(f"{directory} holds a meta-trained model, not one adapted to an assay: run "
                                   "`molprior adapt --model MODEL --support FILE --output DIR` and score with DIR")
        adapted = Adapted({n: p.detach() for n, p in learner.model.named_parameters()},
                          description.get("target_mean", 0.0), description.get("target_std", 1.0),
                          description.pop("adapted_state", {}))
        support = directory / SUPPORT_FILE
        fingerprints = ecfp(pd.read_csv(support)["smiles"].tolist()) if support.exists() else None
        assay = str(description.get("metadata", {}).get("assay", ""))
        return cls(Scorer(learner, {assay: adapted}), fingerprints, description, load_seen(directory))

    @property
    def learner(self) -> FewShotLearner:
        return self.scorer.learner

    @property
    def regression(self) -> bool:
        return self.learner.config.task_type == "regression"

    @property
    def score_column(self) -> str:
        """``value`` for a regression model, ``probability_active`` for a classifier."""
        return "value" if self.regression else "probability_active"

    @property
    def output_columns(self) -> list[str]:
        """The columns :meth:`score` adds to the standardised SMILES, in order."""
        return [self.score_column, UNCERTAINTY, "support_similarity", "error"]

    @property
    def assay(self) -> str:
        """The assay the model was adapted to (the name of its one head)."""
        return next(iter(self.scorer.heads))

    def score(self, smiles: Sequence[str], jobs: int = 1) -> pd.DataFrame:
        """Scores for ``smiles`` in order: ``smiles`` (standardised; empty when it failed),
        the score column, :data:`UNCERTAINTY`, ``support_similarity`` (highest Tanimoto
        similarity of the ECFP4 to a support molecule) and ``error`` (why a row has no score,
        else empty)."""
        texts = ["" if s is None or (isinstance(s, float) and np.isnan(s)) else str(s).strip() for s in smiles]
        outcomes = standardize_items([("smiles", t) for t in texts], n_jobs=jobs)
        canonical = [o.smiles for o in outcomes]
        errors = ["" if o.smiles is not None else o.reason for o in outcomes]
        scores = np.full(len(texts), np.nan)
        spread = np.full(len(texts), np.nan)
        similarity = np.full(len(texts), np.nan)
        unique = list(dict.fromkeys(s for s in canonical if s is not None))
        by_smiles: dict[str, tuple[float, float, float]] = {}
        failed: dict[str, str] = {}
        for start in range(0, len(unique), BATCH):
            by_smiles.update(self._score_unique(unique[start:start + BATCH], jobs, failed))
        for i, s in enumerate(canonical):
            if s in by_smiles:
                scores[i], spread[i], similarity[i] = by_smiles[s]
            elif s in failed:
                errors[i] = failed[s]
        return pd.DataFrame({"smiles": [s or "" for s in canonical], self.score_column: scores, UNCERTAINTY: spread,
                             "support_similarity": np.round(similarity, 4), "error": errors})

    def _score_unique(self, smiles: list[str], jobs: int,
                      errors: dict[str, str]) -> dict[str, tuple[float, float, float]]:
        bank, failed = MoleculeBank.build(smiles, fingerprint_bits=self.learner.model.head_config.fingerprint_dim,
                                          n_jobs=jobs)
        errors.update({s: f"cannot featurise: {reason}" for s, reason in failed.items()})
        ok = [s for s in smiles if s in bank]
        if not ok:
            return {}
        inputs = BankRows(bank, bank.indices(ok))
        row_errors: dict[int, str] = {}
        values, spread = self.scorer.outputs(self.scorer.represent(inputs), self.assay, row_errors)
        errors.update({ok[row]: reason for row, reason in row_errors.items()})
        if self.support_fingerprints is not None:
            fingerprints = bank.fingerprints[inputs.indices] if bank.fingerprints is not None else ecfp(ok)
            best = tanimoto(fingerprints, self.support_fingerprints).max(axis=1)
        else:
            best = np.full(len(ok), np.nan)
        return {s: (float(v), float(u), float(b)) for s, v, u, b in zip(ok, values, spread, best) if s not in errors}
