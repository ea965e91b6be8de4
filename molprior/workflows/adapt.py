"""``molprior adapt``: adapt a meta-trained model to one assay's support set (tracked)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.chem.features import FEATURIZER_VERSION
from molprior.data import leakage
from molprior.data.prepare import prepare_table
from molprior.data.readers import InputSpec
from molprior.errors import InputError
from molprior.data.tasks import FewShotTask, tasks_from_table
from molprior.files import write_csv, write_manifest
from molprior.inference.assay_scoring import SUPPORT_FILE
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import FewShotLearner
from molprior.tracking import runs
from molprior.tracking.artifacts import resolve_model_dir
from molprior.serialization import load_learner, save_learner

log = logging.getLogger(__name__)

#: How the shipped few-shot model is named in runs and metadata.
SHIPPED_MODEL = "shipped few-shot model"


@dataclass
class AdaptOutcome:
    model_dir: Path
    assay: str
    n_support: int
    n_actives: int
    seconds: float  # the adaptation itself, model and data already loaded
    rejected: pd.DataFrame
    n_seen: int | None = None  # support molecules the model was meta-trained on (None: it does not say)
    run_id: str | None = None
    model_id: str | None = None


def load_fewshot_model(model: str | Path | None) -> tuple[FewShotLearner, dict, Path]:
    """A few-shot model from a directory, ``runs:/`` or ``models:/`` URI; ``None``: the shipped one."""
    directory = resolve_model_dir(model, kind="fewshot")
    learner, description = load_learner(directory)
    return learner, description, directory


def read_support(path: str | Path, spec: InputSpec = InputSpec(), assay: str | None = None,
                 jobs: int = 1) -> tuple[FewShotTask, pd.DataFrame]:
    """The support set of one assay from a file (labels: 0/1 as given, otherwise measurements
    split at the assay's median); also the rejected input lines with their reasons."""
    prepared = prepare_table(path, spec, n_jobs=jobs)
    for row in prepared.rejected.itertuples():
        log.warning("support line %s (%s): %s", row.line, row.input, row.reason)
    table = prepared.table
    assays = list(dict.fromkeys(table["assay"]))
    if not assays:
        raise InputError(f"{path}: no usable support molecules ({len(prepared.rejected)} lines rejected)")
    if assay is None:
        if len(assays) > 1:
            raise InputError(f"{path} holds {len(assays)} assays {assays[:10]}: choose one with --assay")
        assay = assays[0]
    return tasks_from_table(table, [assay])[0], prepared.rejected


def support_bank(smiles: list[str], fingerprint_bits: int,
                 featurised: MoleculeBank | None = None) -> tuple[MoleculeBank, dict[str, str]]:
    """The support's graphs (and ``fingerprint_bits``-bit ECFP4) and why any molecule has none:
    taken from ``featurised`` when it holds every one, else featurised here."""
    if featurised is None or featurised.kind != "smiles" or not all(s in featurised for s in smiles):
        return MoleculeBank.build(smiles, fingerprint_bits=fingerprint_bits)
    return featurised.subset(smiles, fingerprint_bits), {}


def adapt(learner: FewShotLearner, task: FewShotTask, bank: MoleculeBank, start: torch.Tensor | None = None):
    """Adapt ``learner`` to every molecule of ``task`` (a hypernetwork head from the latent
    code ``start`` when given); returns the adapted weights and the seconds it took."""
    regression = learner.config.task_type == "regression"
    if regression and (task.values is None or np.isnan(task.values).any()):
        raise InputError(f"assay {task.assay}: a regression model needs a measured value for every support molecule")
    targets = torch.tensor(np.array(task.values if regression else task.labels, dtype=np.float32))
    relations = torch.as_tensor(task.relations) if regression and task.relations is not None else None
    batch = bank.batch(bank.indices(task.inputs))
    began = time.perf_counter()
    adapted = learner.adapt(batch, targets, relations, start=start)
    return adapted, time.perf_counter() - began


def count_seen(smiles: list[str], directory: Path, jobs: int = 1) -> int | None:
    """How many of ``smiles`` the model in ``directory`` was meta-trained or selected on
    (``None`` for a model that does not record its molecules); logged as a warning when any."""
    seen = leakage.load_seen(directory)
    if seen is None:
        return None
    n_seen = int(leakage.seen_mask(smiles, seen, jobs).sum())
    if n_seen:
        log.warning("%d of the %d molecules were among the model's meta-training molecules (its scores on them "
                    "are not a fresh test)", n_seen, len(smiles))
    return n_seen


def description_latent(learner: FewShotLearner, model_dir: Path, description: str) -> torch.Tensor:
    """The latent code of ``description`` by the zero-shot heads of the hyper_maml model in
    ``model_dir`` (their configured method)."""
    from molprior.zeroshot.heads import ZeroShotHeads

    if not learner.maml.hyper:
        raise InputError(f"{model_dir} is not a hyper_maml model: a description gives a hypernetwork head's code "
                         "(meta-train one with `molprior metatrain --config fsmol_hyper` and pass it as --model)")
    return ZeroShotHeads.load(model_dir).latent(description)


def run_adapt(model: str | Path | None, support: str | Path | None, output_dir: str | Path,
              spec: InputSpec = InputSpec(), assay: str | None = None, jobs: int = 1, seed: int = 0,
              nested: bool = False, description: str | None = None,
              featurised: MoleculeBank | None = None) -> AdaptOutcome:
    """Adapt ``model`` (``None``: the shipped few-shot model) to the support file and save the
    adapted model in ``output_dir``; logged to MLflow as a run with the model as a logged model.
    With a hyper_maml model, ``description`` (free text naming the assay's target) gives the
    head's start; without a support file, the zero-shot head itself (assay ``assay`` or
    ``zero-shot``).  The adapted model keeps the record of the molecules its parent was
    meta-trained on.  ``featurised`` (a run's bank holding the support's molecules, e.g. the
    pipeline's) gives their graphs instead of featurising them again."""
    if support is None and description is None:
        raise InputError("adapt needs a support file (--support), a description (--description), or both")
    learner, parent, parent_dir = load_fewshot_model(model)
    model = model if model is not None else SHIPPED_MODEL
    with runs.tracked_run("adapt", params={"model": str(model), "support": str(support), "assay": assay,
                                           "algorithm": learner.config.algorithm, "seed": seed,
                                           "description": description}, nested=nested) as run:
        start = description_latent(learner, parent_dir, description) if description is not None else None
        torch.manual_seed(seed)
        if support is None:
            support_sha256, rejected = None, pd.DataFrame(columns=["line", "input", "column", "reason"])
            task = FewShotTask(assay or "zero-shot", [], np.zeros(0), description=description)
            adapted, seconds = learner.with_latent(start), 0.0
        else:
            support_sha256 = runs.log_input_file(support, "support")
            task, rejected = read_support(support, spec, assay, jobs)
            bank, errors = support_bank(task.inputs, learner.model.head_config.fingerprint_dim, featurised)
            if errors:
                for smiles, reason in errors.items():
                    log.warning("support molecule %s left out: %s", smiles, reason)
                task.keep([i for i, s in enumerate(task.inputs) if s in bank])
            adapted, seconds = adapt(learner, task, bank, start)
        n_actives = int(np.nansum(task.labels))
        n_seen = count_seen(task.inputs, parent_dir, jobs) if task.inputs else None
        log.info("adapted to %d support molecules of %s (%d actives)%s in %.2f s", len(task.inputs), task.assay,
                 n_actives, " from its description" if description is not None else "", seconds)
        out = Path(output_dir)
        metadata = {"parent_model": str(model), "parent_run_id": parent.get("metadata", {}).get("mlflow_run_id"),
                    "mlflow_run_id": run.info.run_id, "assay": task.assay,
                    "support_file": None if support is None else str(support), "support_sha256": support_sha256,
                    "description": description, "n_support": len(task.inputs), "n_actives": n_actives,
                    "adapt_seconds": seconds, "n_support_seen_in_meta_training": n_seen,
                    "train_assays": parent.get("metadata", {}).get("train_assays", [])}
        save_learner(learner, out, metadata, adapted, seen=leakage.load_seen(parent_dir),
                     seen_skeletons=leakage.load_seen_skeletons(parent_dir))
        (out / SUPPORT_FILE).unlink(missing_ok=True)  # a zero-shot model has no support to compare with
        if task.inputs:
            write_csv(pd.DataFrame({"smiles": task.inputs, "label": task.labels,
                                    "value": task.values if task.values is not None else np.nan}), out / SUPPORT_FILE)
        write_csv(rejected, out / "rejected.csv")
        write_manifest(out)  # the support set is part of the model: it gives support_similarity
        runs.log_metrics({"n_support": len(task.inputs), "n_actives": n_actives, "adapt_seconds": seconds,
                          "lines_rejected": len(rejected), **({} if n_seen is None else {"n_support_seen": n_seen})})
        import mlflow

        mlflow.log_artifacts(str(out), artifact_path="model")
        tags = {"molprior.featurizer_version": FEATURIZER_VERSION, "molprior.stage": "adapt",
                "molprior.assay": task.assay, "molprior.algorithm": learner.config.algorithm,
                **({"molprior.zero_shot": "true"} if support is None else {})}
        model_id = runs.log_model_dir("model", out, "molprior-fewshot", tags)
    return AdaptOutcome(out, task.assay, len(task.inputs), n_actives, seconds, rejected, n_seen, run.info.run_id,
                        model_id)
