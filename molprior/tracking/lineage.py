"""Where a model comes from, as registry tags: runs, data hashes, code version."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any, Mapping

from molprior import __version__
from molprior.chem.features import FEATURIZER_VERSION


def git_commit(directory: str | Path | None = None) -> str:
    """The commit checked out in ``directory`` (default: where molprior's code lives;
    ``+dirty`` with uncommitted changes to tracked files), or ``unknown`` outside a git work tree."""
    directory = directory or Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory,
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def targets_of(assays: list[str]) -> list[str]:
    """ChEMBL target ids of assay names such as ``CHEMBL214_Ki`` (others are kept whole)."""
    return sorted({a.split("_")[0] if a.upper().startswith("CHEMBL") else a for a in assays})


#: Longest assay list kept whole in a tag (MLflow refuses tag values over 8,000 characters).
MAX_LISTED = 4000


def assay_list(assays: list[str]) -> str:
    """Assay names for a tag: comma-joined, or for a list too long for a tag (FS-Mol's 4,000
    training tasks) its count and SHA-256 (the names themselves are in the model's ``model.json``)."""
    joined = ",".join(assays)
    if len(joined) <= MAX_LISTED:
        return joined
    return f"{len(assays)} assays (sha256 {hashlib.sha256(joined.encode()).hexdigest()} of the comma-joined names)"


def lineage_tags(*, pipeline_run_id: str = "", pretrain_run_id: str = "", prior: str = "",
                 metatrain_run_id: str = "", benchmark_run_id: str = "", train_assays: list[str] = (),
                 val_assays: list[str] = (), heads: list[str] = (), task_type: str = "classification",
                 algorithm: str = "", data_hashes: Mapping[str, str] | None = None,
                 metrics: Mapping[str, float] | None = None, benchmark_metric: str = "") -> dict[str, str]:
    """The ``molprior.*`` tags every registered version carries (metrics as ``molprior.metric.*``)."""
    tags: dict[str, Any] = {
        "molprior.version": __version__, "molprior.git_commit": git_commit(),
        "molprior.featurizer_version": FEATURIZER_VERSION, "molprior.pipeline_run_id": pipeline_run_id,
        "molprior.pretrain_run_id": pretrain_run_id, "molprior.prior": prior,
        "molprior.metatrain_run_id": metatrain_run_id, "molprior.benchmark_run_id": benchmark_run_id,
        "molprior.train_assays": assay_list(list(train_assays)), "molprior.val_assays": assay_list(list(val_assays)),
        "molprior.assays": ",".join(heads), "molprior.targets": ",".join(targets_of(list(heads))),
        "molprior.task_type": task_type, "molprior.algorithm": algorithm,
        "molprior.benchmark_metric": benchmark_metric,
    }
    tags.update({f"molprior.data_sha256.{k}": v for k, v in (data_hashes or {}).items()})
    tags.update({f"molprior.metric.{k}": f"{float(v):.6g}" for k, v in (metrics or {}).items()})
    return {k: str(v) for k, v in tags.items() if v not in ("", None)}
