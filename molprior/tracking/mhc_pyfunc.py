"""The MHC class I predictor as an MLflow ``pyfunc`` model (registered as ``molprior-mhc-i``).

The packaged model holds the predictor directory (``artifacts/mhc``: encoder, body, allele
heads, reference percentiles; checked against its ``checksums.json`` when loaded) and
molprior's code.  Input: ``peptide`` and ``allele`` columns; output: the columns of
``molprior peptides score`` (``ic50_nm``, ``score``, ``binder``, ``percentile_rank``,
``best_allele``, ``error``, ``note``).  Defined by code (:mod:`molprior.tracking.mhc_pyfunc_model`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

import molprior
from molprior.files import verify_manifest
from molprior.tracking.pyfunc import bundle_code, requirements

MODEL_CODE = Path(__file__).with_name("mhc_pyfunc_model.py")
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


def log_mhc_pyfunc(model_dir: str | Path, name: str = "model", registered_model_name: str | None = None,
                   tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None):
    """Log an MHC predictor directory as a pyfunc model of the active run (registered as
    ``registered_model_name`` when given); returns MLflow's ``ModelInfo``."""
    import mlflow

    from molprior.inference.mhc_predictor import load_predictor

    verify_manifest(model_dir, required=True)
    predictor = load_predictor(model_dir)
    example = pd.DataFrame({"peptide": ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL"],
                            "allele": [predictor.supported[0]] * 3})
    with tempfile.TemporaryDirectory(prefix="molprior-pyfunc-") as tmp:
        packaged = Path(tmp) / "mhc"  # MLflow keeps the directory's name: artifacts/mhc
        shutil.copytree(model_dir, packaged)
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(MODEL_CODE), artifacts={"mhc": str(packaged)},
            code_paths=[str(bundle_code(Path(tmp) / "code"))], signature=signature(), input_example=example,
            pip_requirements=[*requirements(), _pin("mhcgnomes")], registered_model_name=registered_model_name,
            tags=dict(tags or {}), params=dict(params or {}), model_type="molprior-mhc-pyfunc",
            metadata={"molprior_version": molprior.__version__, "alleles": predictor.supported})


def _pin(name: str) -> str:
    from importlib import metadata

    return f"{name}=={metadata.version(name)}"
