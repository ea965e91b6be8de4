"""Per-allele random forests of the MHC class I benchmark, fitted on one allele's support set.

Targets are MHCflurry-style scores ``1 - log(ic50) / log(50000)`` clipped to [0, 1]; a censored
measurement (``<``/``>``) is used at its bound, since a forest has no censored loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.ensemble import RandomForestRegressor

from molprior.immunology.amino_acids import SCHEMES, encode_peptides
from molprior.errors import InputError

class PerAlleleForest:
    """Random forest regression of binding scores on a fixed-length peptide encoding."""

    def __init__(self, scheme: str = "blosum62", n_estimators: int = 500, seed: int = 0,
                 n_jobs: int | None = 1, max_length: int = 15) -> None:
        if scheme not in SCHEMES:
            raise InputError(f"unknown encoding scheme {scheme!r}; expected one of {SCHEMES}")
        self.scheme, self.max_length = scheme, max_length
        self.model = RandomForestRegressor(n_estimators=n_estimators, random_state=seed, n_jobs=n_jobs)
        self._fitted = False

    @property
    def name(self) -> str:
        return f"rf_{self.scheme}"

    def fit(self, peptides: Sequence[str], scores: Sequence[float] | np.ndarray) -> PerAlleleForest:
        """Fit on support peptides and their scores in [0, 1]."""
        scores = np.asarray(scores, dtype=np.float64)
        if len(peptides) != len(scores) or len(scores) == 0:
            raise ValueError(f"need as many scores as peptides (got {len(peptides)} and {len(scores)})")
        self.model.fit(encode_peptides(peptides, self.scheme, self.max_length), scores)
        self._fitted = True
        return self

    def predict(self, peptides: Sequence[str]) -> np.ndarray:
        """Predicted scores of query peptides."""
        if not self._fitted:
            raise RuntimeError(f"{self.name} is not fitted")
        return self.model.predict(encode_peptides(peptides, self.scheme, self.max_length))
