"""The MHC class I predictor as an MLflow ``pyfunc`` model (registered as ``molprior-mhc-i``).

The packaged model holds the predictor directory (``artifacts/mhc``: encoder, body, allele
heads, reference percentiles; checked against its ``checksums.json`` when loaded) and
molprior's code.  Input: ``peptide`` and ``allele`` columns; output: the columns of
``molprior peptides score`` (``ic50_nm``, ``score``, ``binder``, ``percentile_rank``,
``best_allele``, ``error``, ``note``).  Defined by code (:mod:`molprior.tracking.mhc_pyfunc_model`).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

import molprior
from molprior.errors import InputError
from molprior.files import verify_manifest
from molprior.tracking.pyfunc import bundle_code, error_reason, requirements

MODEL_CODE = Path(__file__).with_name("mhc_pyfunc_model.py")
REGISTERED_NAME = "molprior-mhc-i"
log = logging.getLogger(__name__)


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


def score_pairs(predictor, frame: pd.DataFrame) -> pd.DataFrame:
    """:func:`~molprior.inference.mhc_scoring.score_table` with one output row per input row,
    in order, whatever the rows hold.  An invalid peptide or an unknown allele is that row's
    ``error`` there; should scoring fail for the whole table instead, the checked rows (their
    normalisation and notes those of the whole table) are scored again in halves, down to single
    rows, so only the rows it fails on get an error (``cannot score: ...``)."""
    from molprior.data.peptide_input import peptide_rows
    from molprior.inference.mhc_scoring import AlleleResolver, score_table

    missing = {"peptide", "allele"} - set(frame.columns)
    if missing:
        raise InputError(f"the input needs 'peptide' and 'allele' columns; missing {sorted(missing)}")
    try:
        out = score_table(predictor, frame)
        if len(out) == len(frame):
            return out
        raise RuntimeError(f"scoring gave {len(out)} rows for {len(frame)}")
    except Exception as error:  # a failure of the whole table: find the rows it comes from
        log.warning("scoring %d rows failed (%s); scoring them in parts", len(frame), error_reason(error))
    rows = peptide_rows(frame["peptide"].tolist(), frame["allele"].tolist(), predictor.lengths)
    return _score_part(predictor, rows, AlleleResolver(predictor.supported))


def _score_part(predictor, rows: pd.DataFrame, resolver) -> pd.DataFrame:
    from molprior.inference.mhc_scoring import COLUMNS, score_chunk

    try:
        out = score_chunk(predictor, rows, None, resolver)
        if len(out) == len(rows):
            return out
        raise RuntimeError(f"scoring gave {len(out)} rows for {len(rows)}")
    except Exception as error:
        if len(rows) > 1:
            middle = len(rows) // 2
            return pd.concat([_score_part(predictor, rows.iloc[:middle], resolver),
                              _score_part(predictor, rows.iloc[middle:], resolver)], ignore_index=True)
        reason = error_reason(error)
    row = rows.iloc[0]
    log.warning("cannot score row %s: %s", row["row"], reason)
    return pd.DataFrame([{**dict.fromkeys(COLUMNS), "row": row["row"], "input": row["input"], "peptide": row["peptide"],
                          "allele": _text(row["allele_input"]), "ic50_nm": float("nan"), "score": float("nan"),
                          "binder": "", "percentile_rank": float("nan"),
                          "error": row["error"] or f"cannot score: {reason}", "note": row["note"]}], columns=COLUMNS)


def _text(value: object) -> str:
    """A cell as text; missing values (None, NaN, NA) are empty."""
    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)


def log_mhc_pyfunc(model_dir: str | Path, name: str = "model", registered_model_name: str | None = None,
                   tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None):
    """Log an MHC predictor directory as a pyfunc model of the active run (registered as
    ``registered_model_name`` when given); returns MLflow's ``ModelInfo``."""
    import mlflow

    from molprior.serialization import load_predictor

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
