"""Registering MHC predictors as ``molprior-mhc-i`` versions with their lineage."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from molprior import __version__
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.tracking.lineage import git_commit


def mhc_lineage_tags(predictor: MHCPredictor, extra: Mapping[str, object] | None = None) -> dict[str, str]:
    """The ``molprior.*`` tags of a registered MHC version: code, prior, data, alleles, metrics."""
    meta = predictor.metadata
    encoder = meta.get("encoder", {})
    tags: dict[str, object] = {
        "molprior.version": __version__, "molprior.git_commit": git_commit(), "molprior.task_type": "mhc-affinity",
        "molprior.train_run_id": meta.get("mlflow_run_id", ""), "molprior.prior": encoder.get("path", ""),
        "molprior.prior_sha256": encoder.get("sha256", ""), "molprior.data_sha256.mhc": meta.get("data_sha256", ""),
        "molprior.train_alleles": ",".join(meta.get("train_alleles", [])),
        "molprior.val_alleles": ",".join(meta.get("val_alleles", [])),
        "molprior.held_out_alleles": ",".join(meta.get("held_out", [])),
        "molprior.alleles": ",".join(predictor.supported),
        "molprior.algorithm": algorithm_name(meta.get("config", {}).get("maml", {})),
        "molprior.benchmark_metric": "val_roc_auc",
    }
    tags.update({f"molprior.metric.{k}": f"{float(v):.6g}" for k, v in meta.get("metrics", {}).items()
                 if isinstance(v, (int, float))})
    if "best_val_roc_auc" in meta.get("metrics", {}):
        tags["molprior.metric.val_roc_auc"] = f"{float(meta['metrics']['best_val_roc_auc']):.6g}"
    tags.update(extra or {})
    return {k: str(v) for k, v in tags.items() if v not in ("", None)}


def algorithm_name(maml: Mapping) -> str:
    """``anil``, ``fomaml`` or ``maml`` from a MAML configuration."""
    if maml.get("anil"):
        return "anil"
    return "fomaml" if maml.get("first_order") else "maml"


def register_mhc(model_dir: str | Path, predictor: MHCPredictor, name: str, extra_tags: Mapping[str, object] | None = None,
                 description: str | None = None):
    """Log ``model_dir`` as a pyfunc of the active run and register it as a version of ``name``."""
    from molprior.tracking.mhc_pyfunc import log_mhc_pyfunc
    from molprior.tracking.registry import register

    tags = mhc_lineage_tags(predictor, extra_tags)
    info = log_mhc_pyfunc(model_dir, tags=tags)
    return register(info.model_uri, name, tags, description)
