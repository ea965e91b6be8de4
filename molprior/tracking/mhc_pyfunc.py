"""The MHC class I predictor as an MLflow ``pyfunc`` model (registered as ``molprior-mhc-i``).

The packaged model holds the predictor directory (``artifacts/mhc``: encoder, body, allele
heads, reference percentiles; checked against its ``checksums.json`` when loaded) and
molprior's code.  Input: ``peptide`` and ``allele`` columns; output: the columns of
``molprior peptides score`` (``ic50_nm``, ``score``, ``binder``, ``percentile_rank``,
``best_allele``, ``error``, ``note``).  One kind of packaged model (:mod:`molprior.tracking.pyfunc`).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from molprior.files import verify_manifest
from molprior.inference.mhc_scoring import score_table
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.serialization import load_predictor
from molprior.tracking.pyfunc import log_packaged

REGISTERED_NAME = "molprior-mhc-i"


def signature():
    """Input ``peptide`` and ``allele``; output the scoring columns."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    inputs = Schema([ColSpec("string", "peptide"), ColSpec("string", "allele")])
    outputs = Schema([ColSpec("long", "row"), ColSpec("string", "input"), ColSpec("string", "peptide", required=False),
                      ColSpec("string", "allele"), ColSpec("double", "ic50_nm"), ColSpec("double", "score"),
                      ColSpec("string", "binder"), ColSpec("double", "percentile_rank"),
                      ColSpec("string", "best_allele", required=False), ColSpec("string", "error", required=False),
                      ColSpec("string", "note", required=False)])
    return ModelSignature(inputs, outputs)


@dataclass
class MHCScoringModel:
    """A packaged MHC predictor: scores peptide/allele tables."""

    predictor: MHCPredictor

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """:func:`~molprior.inference.mhc_scoring.score_table`."""
        return score_table(self.predictor, frame)


def load_mhc(artifacts: Mapping[str, str]) -> MHCScoringModel:
    """The scorer of a packaged MHC model (its checksums verified first)."""
    return MHCScoringModel(load_predictor(artifacts["mhc"]))


def log_mhc_pyfunc(model_dir: str | Path, name: str = "model", registered_model_name: str | None = None,
                   tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None):
    """Log an MHC predictor directory as a pyfunc model of the active run (registered as
    ``registered_model_name`` when given); returns MLflow's ``ModelInfo``."""
    verify_manifest(model_dir, required=True)
    predictor = load_predictor(model_dir)
    example = pd.DataFrame({"peptide": ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL"],
                            "allele": [predictor.supported[0]] * 3})
    with tempfile.TemporaryDirectory(prefix="molprior-pyfunc-") as tmp:
        packaged = Path(tmp) / "mhc"  # MLflow keeps the directory's name: artifacts/mhc
        shutil.copytree(model_dir, packaged)
        return log_packaged("mhc", {"mhc": packaged}, signature(), example, {"alleles": predictor.supported},
                            name=name, registered_model_name=registered_model_name, tags=tags, params=params,
                            extra_requirements=[_pin("mhcgnomes")])


def _pin(name: str) -> str:
    from importlib import metadata

    return f"{name}=={metadata.version(name)}"
