"""``molprior peptides adapt``: a head for a new allele from 16 to 128 measurements (tracked).

The measurements (CSV: ``peptide``, ``ic50`` and optionally ``measurement_inequality`` and
``allele``) go through the same checks as training data; the meta-learned inner loop adapts the
initial head to them with the censored loss; the allele's reference percentiles are computed;
and the result is the base model plus the new allele, saved as a new model directory.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.immunology.alleles import normalize_allele
from molprior.data.mhc import load_measurements
from molprior.errors import InputError
from molprior.files import file_hash, write_csv
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.serialization import save_predictor
from molprior.models.allele_model import PeptideFeatures

log = logging.getLogger(__name__)

MIN_MEASUREMENTS = 16
MAX_FEW_SHOT = 128  # the largest support meta-training adapted to


@dataclass
class AdaptOutcome:
    model_dir: Path
    allele: str
    measurements: int
    binders: int
    rejected: pd.DataFrame
    replaced: bool


def read_allele_measurements(path: str | Path, allele: str, lengths: tuple[int, int]):
    """The measurements of ``allele`` in ``path`` (rows for other alleles are set aside)."""
    try:
        measurements = load_measurements(path, lengths, allele=allele)
    except ValueError as error:
        if "need columns" not in str(error):
            raise
        raise InputError(f"{path}: the measurements need columns peptide and ic50 (nM) ({error})") from None
    other = measurements.table["allele"] != allele
    if other.any():
        log.warning("%d measurements are for other alleles (%s) and are left out", int(other.sum()),
                    ", ".join(sorted(measurements.table.loc[other, "allele"].unique())[:5]))
    return measurements.table[~other].reset_index(drop=True), measurements.rejected


def adapt_allele(predictor: MHCPredictor, allele: str, measurements: str | Path, output_dir: str | Path,
                 steps: int | None = None, reference_seed: int = 0) -> AdaptOutcome:
    """Add (or replace) ``allele``'s head, adapted to ``measurements``; save to ``output_dir``."""
    allele = normalize_allele(allele)
    table, rejected = read_allele_measurements(measurements, allele, predictor.lengths)
    labels = table["label"].to_numpy()
    if len(table) < MIN_MEASUREMENTS:
        raise InputError(f"{len(table)} usable measurements for {allele}; adaptation needs at least "
                         f"{MIN_MEASUREMENTS} ({len(rejected)} rows rejected)")
    if not (labels == 1).any() or not (labels == 0).any():
        log.warning("the measurements of %s hold no %s: the adapted head will rank poorly", allele,
                    "binder (< 500 nM)" if not (labels == 1).any() else "non-binder (>= 500 nM)")
    features = predictor.peptide_encoder.embed(table["peptide"].tolist())
    scores = torch.from_numpy(np.array(table["score"], dtype=np.float32))
    relations = torch.from_numpy(np.array(table["score_relation"], dtype=np.int64))
    replaced = allele in predictor.supported
    if steps is None and len(table) > MAX_FEW_SHOT:  # beyond what the inner loop was meta-trained for
        steps = int(predictor.metadata.get("config", {}).get("adapt_steps", 50))
        log.info("%d measurements: %d inner steps (as for the model's own alleles with fewer than %s)",
                 len(table), steps, predictor.metadata.get("config", {}).get("finetune_min", 1000))
    # a replaced allele's fine-tuned body adapter goes with its old head
    predictor.set_head(allele, predictor.learner.adapt(PeptideFeatures(features), scores, relations, steps).head())
    predictor.alleles[allele] = {
        "measurements": len(table), "binders": int(np.nansum(labels)),
        "head": f"inner loop ({steps or predictor.learner.maml.config.inner_steps} steps) on {len(table)} measurements",
        "role": "adapted", "measurements_file": Path(measurements).name,
        "measurements_sha256": file_hash(measurements)}
    per_length = int(predictor.metadata.get("config", {}).get("reference_per_length", 5000))
    # the allele reads the shared body: its reference scores need no embeddings (cached per model)
    predictor.set_reference(allele, predictor.shared_reference_body(per_length, reference_seed))
    out = Path(output_dir)
    model_dir = save_predictor(predictor, out / "model")
    write_csv(table, out / "support.csv")
    write_csv(rejected, out / "rejected.csv")
    return AdaptOutcome(model_dir, allele, len(table), int(np.nansum(labels)), rejected, replaced)


def run_adapt_allele(allele: str, measurements: str | Path, output_dir: str | Path, model: str | None = None,
                     steps: int | None = None, register_as: str | None = "molprior-mhc-i"):
    """Adapt in a tracked MLflow run; register the new model (base model plus the allele) as a
    version of ``register_as`` with its lineage.  Returns the outcome and the version (or None)."""
    import mlflow

    from molprior.serialization import load_predictor
    from molprior.tracking import runs
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.workflows.mhc_registry import register_mhc

    base_dir = resolve_model_dir(model, "mhc")
    predictor = load_predictor(base_dir)
    with runs.tracked_run("mhc-adapt", params={"allele": allele, "measurements": str(measurements),
                                               "base_model": str(model or "shipped"), "steps": steps or ""}):
        runs.log_input_file(measurements, "measurements")
        outcome = adapt_allele(predictor, allele, measurements, output_dir, steps)
        runs.log_metrics({"measurements": outcome.measurements, "binders": outcome.binders,
                          "rejected": len(outcome.rejected)})
        mlflow.set_tags({"molprior.stage": "mhc-adapt", "molprior.allele": outcome.allele})
        runs.log_files([Path(output_dir) / "support.csv", Path(output_dir) / "rejected.csv"])
        version = None
        if register_as:
            lineage = {"molprior.adapted_allele": outcome.allele, "molprior.base_model": str(model or "shipped"),
                       "molprior.data_sha256.measurements": file_hash(measurements),
                       "molprior.adapted_measurements": outcome.measurements}
            version = register_mhc(outcome.model_dir, predictor, register_as, lineage,
                                   f"molprior MHC class I model with {outcome.allele} adapted from "
                                   f"{outcome.measurements} measurements")
    return outcome, version
