"""``molprior peptides train``: the MHC class I model, meta-trained across alleles (tracked).

Steps: read and normalise the measurements; embed every distinct peptide once with the peptide
prior; meta-train the allele model across the training alleles (checkpoint chosen on the
meta-validation alleles); give every allele its head (a full fine-tune for alleles with many
measurements, the inner loop on all measurements for the others); score the reference peptides
for percentile ranks; save the predictor and log it to MLflow.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from molprior.config import MHCTrainConfig, write_settings
from molprior.data.catalog import local_or_embedded
from molprior.data.mhc import MHCMeasurements, allele_tasks, load_measurements
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError, MissingError
from molprior.files import file_hash, write_csv, write_text
from molprior.meta.allele_learner import AlleleFineTune, fine_tune_allele
from molprior.meta.batches import FeatureBank
from molprior.meta.learner import FewShotLearner
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.models.allele_model import PeptideFeatures
from molprior.models.peptide_encoder import PeptideEncoder
from molprior.serialization import load_encoder, save_predictor
from molprior.tracking import runs
from molprior.tracking.artifacts import resolve_model_dir
from molprior.training.metatrain_data import MetaDataModule, TrainingEpisodes, validation_assays
from molprior.training.metatrain_module import MetaTrainModule
from molprior.training.trainer import build_trainer, clear_checkpoints
from molprior.workflows.mhc_registry import algorithm_name

log = logging.getLogger(__name__)

PRIORS = Path(__file__).resolve().parent.parent / "priors"


@dataclass
class MHCTrainOutcome:
    output_dir: Path
    model_dir: Path
    run_id: str
    metrics: dict[str, float]
    predictor: MHCPredictor


def peptide_prior_dir(prior: str) -> Path:
    """The encoder directory of a prior: ``"peptide"`` (shipped, has seen peptides),
    ``"shipped"``/``"default"`` (the drug-like prior), a directory or an MLflow URI."""
    if prior in ("peptide", "shipped", "default"):
        directory = PRIORS / ("peptide" if prior == "peptide" else "default")
        if not (directory / "encoder" / "encoder.json").exists():
            raise MissingError(f"no {prior} prior in {directory}")
        return directory / "encoder"
    return resolve_model_dir(prior, kind="encoder")


def load_peptide_encoder(prior: str, lengths: Sequence[int]) -> tuple[PeptideEncoder, dict]:
    """The peptide encoder over a prior, and where it came from (path and weights hash)."""
    directory = peptide_prior_dir(prior)
    encoder, metadata = load_encoder(directory)
    origin = {"prior": prior, "path": str(directory), "sha256": file_hash(directory / "encoder.safetensors"),
              "prior_metadata": {k: metadata[k] for k in ("corpus", "parent", "mlflow_run_id") if k in metadata}}
    return PeptideEncoder(encoder, lengths=tuple(lengths)).eval(), origin


def embedding_cache_dir() -> Path:
    from molprior.chem.cache import default_cache_dir

    return default_cache_dir().parent / "peptide-embeddings"


def embed_peptides(encoder: PeptideEncoder, peptides: Sequence[str], encoder_sha256: str,
                   cache_dir: str | Path | None = None) -> torch.Tensor:
    """Embeddings of ``peptides`` (in order), cached on disk by encoder weights and peptide list."""
    key = hashlib.sha256((encoder_sha256 + json.dumps([encoder.terminal_slots, list(encoder.lengths)])
                          + "\n".join(peptides)).encode()).hexdigest()[:24]
    path = Path(cache_dir or embedding_cache_dir()) / f"{key}.npy"
    if path.exists():
        return torch.from_numpy(np.load(path))
    log.info("embedding %d peptides", len(peptides))
    embeddings = encoder.embed(list(peptides)).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, embeddings)
    tmp.replace(path)
    return torch.from_numpy(embeddings)


def split_alleles(measurements: MHCMeasurements, config: MHCTrainConfig) -> tuple[list[str], list[str]]:
    """Meta-training and meta-validation alleles (held-out alleles in neither)."""
    alleles = measurements.alleles()
    held = set(config.held_out)
    val = [a for a in config.val_alleles if a in alleles and a not in held]
    train = [a for a in alleles if a not in held and a not in val]
    if not val:
        raise InputError(f"none of the meta-validation alleles {config.val_alleles} is in the data")
    if not train:
        raise InputError("no meta-training alleles left")
    return train, val


def allele_module(input_dim: int, config: MHCTrainConfig) -> MetaTrainModule:
    """The meta-training module of the allele model: the few-shot learner with the affinity
    objective over an encoder-less task model (body and head of :class:`AlleleModelConfig`),
    checkpoints chosen on ROC-AUC at 500 nM."""
    shape = config.model
    return MetaTrainModule(head={"hidden_dim": shape.head_hidden},
                           learner={"algorithm": "maml", "task_type": "affinity", "maml": config.maml.to_dict()},
                           optim={"meta_lr": config.meta_lr}, input_dim=input_dim, body=asdict(shape.body()),
                           selection_metric="val_roc_auc")


def meta_train(bank: FeatureBank, train: list[FewShotTask], val: list[FewShotTask], config: MHCTrainConfig,
               output_dir: Path, logger=None, progress: bool = True) -> tuple[FewShotLearner, dict[str, float], list]:
    """Meta-train across ``train`` alleles (random supports, as the MHC protocol draws them) on
    the peptide embeddings of ``bank``; the learner with the best meta-validation ROC-AUC (the
    untrained start included)."""
    torch.manual_seed(config.seed)
    module = allele_module(bank.features.shape[1], config)
    episodes = TrainingEpisodes(train, bank, config.support_sizes, config.query_size, "affinity",
                                config.steps_per_epoch * config.tasks_per_step, config.seed, protocol="random")
    validation = validation_assays(val, bank, config.val_support_size, config.val_draws, "affinity", config.seed,
                                   protocol="random")
    trainer = build_trainer(config.trainer, output_dir, logger,
                            progress_bar=progress, monitor=module.selection_metric, mode="max", inference_mode=False,
                            sanity_val_steps=-1)
    clear_checkpoints(output_dir)
    start = copy.deepcopy(module.learner.state_dict())
    trainer.fit(module, datamodule=MetaDataModule(episodes, validation, config.tasks_per_step))
    history = module.history
    callback = trainer.checkpoint_callback
    best = float(callback.best_model_score) if callback and callback.best_model_score is not None else float("-inf")
    initial = history[0]["val_roc_auc"] if history and history[0]["epoch"] == -1 else float("-inf")
    if initial > best:
        log.warning("meta-validation ROC-AUC was best before meta-training: keeping the initial weights")
        module.learner.load_state_dict(start)
        best = initial
    elif callback and callback.best_model_path:
        module = MetaTrainModule.load_from_checkpoint(callback.best_model_path, weights_only=False)
    learner = module.learner.eval()
    metrics = {"best_val_roc_auc": best, "initial_val_roc_auc": initial, "epochs_trained": trainer.current_epoch,
               "steps_trained": trainer.global_step}
    return learner, metrics, history


def fine_tune(learner: FewShotLearner, features: torch.Tensor, scores: torch.Tensor, relations: torch.Tensor,
              config: MHCTrainConfig, seed: int | None = None) -> AlleleFineTune:
    """:func:`~molprior.meta.allele_learner.fine_tune_allele` with the config's settings."""
    return fine_tune_allele(learner, features, scores, relations, config.finetune_epochs, config.finetune_lr,
                            config.finetune_body_lr, config.finetune_rank,
                            seed=config.seed if seed is None else seed)


@dataclass
class AlleleParameters:
    """Every allele's head, the body adapters of the fine-tuned ones, and how each was made."""

    heads: dict[str, dict[str, torch.Tensor]]
    bodies: dict[str, dict[str, torch.Tensor]]
    info: dict[str, dict]


def allele_parameters(learner: FewShotLearner, features: torch.Tensor, tasks: list[FewShotTask],
                      config: MHCTrainConfig) -> AlleleParameters:
    """Each allele's own parameters: fine-tuned head and body adapter for alleles with at least
    ``finetune_min`` measurements, the inner loop on all measurements for the others."""
    heads, bodies, info = {}, {}, {}
    for task in tasks:
        rows = torch.from_numpy(task.rows)
        scores, relations = torch.from_numpy(task.values), torch.from_numpy(task.relations)
        if len(task) >= config.finetune_min:
            tuned = fine_tune(learner, features[rows], scores, relations, config)
            heads[task.assay], bodies[task.assay] = tuned.head, tuned.body
            how = (f"head and rank-{config.finetune_rank} body adapter fine-tuned on all {len(task)} measurements "
                   f"({config.finetune_epochs} epochs)")
        else:
            heads[task.assay] = learner.adapt(PeptideFeatures(features[rows]), scores, relations,
                                               steps=config.adapt_steps).head()
            how = f"inner loop ({config.adapt_steps} steps) on all {len(task)} measurements"
        info[task.assay] = {"measurements": len(task), "binders": int(np.nansum(task.labels)), "head": how}
    return AlleleParameters(heads, bodies, info)


def run_mhc_training(config: MHCTrainConfig, output_dir: str | Path, progress: bool = True,
                     nested: bool = False, cache_dir: str | Path | None = None) -> MHCTrainOutcome:
    """Train, save (``output_dir/model``) and log the MHC class I predictor."""
    config = replace(config, data=str(local_or_embedded(config.data)))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    params = {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in asdict(config).items()}
    with runs.tracked_run("mhc-train", params=params, nested=nested) as run:
        runs.log_files([write_settings(config, out, "molprior peptides train --config {settings} -o {dir}")])
        runs.log_input_file(config.data, "mhc_data")
        measurements = load_measurements(config.data, tuple(config.lengths))
        write_csv(measurements.rejected, out / "rejected.csv")
        table = measurements.table[~measurements.table["allele"].isin(config.held_out)]
        measurements = MHCMeasurements(table.reset_index(drop=True), measurements.rejected)
        train_alleles, val_alleles = split_alleles(measurements, config)
        encoder, origin = load_peptide_encoder(config.prior, config.lengths)
        peptides = sorted(set(measurements.table["peptide"]))
        features = embed_peptides(encoder, peptides, origin["sha256"], cache_dir)
        rows = {p: i for i, p in enumerate(peptides)}
        train = allele_tasks(measurements.table, rows, train_alleles)
        val = allele_tasks(measurements.table, rows, val_alleles)
        log.info("meta-training across %d alleles (%d measurements); validating on %s", len(train),
                 sum(len(t) for t in train), ", ".join(val_alleles))
        learner, metrics, history = meta_train(FeatureBank(features, peptides), train, val, config, out,
                                               runs.lightning_logger(run.info.run_id), progress)
        own = allele_parameters(learner, features, train + val, config)
        heads, info = own.heads, own.info
        for allele in train_alleles:
            info[allele]["role"] = "meta-train"
        for allele in val_alleles:
            info[allele]["role"] = "meta-validation"
        metadata = {"mlflow_run_id": run.info.run_id, "data": str(config.data),
                    "data_sha256": file_hash(config.data), "encoder": origin, "held_out": list(config.held_out),
                    "train_alleles": train_alleles, "val_alleles": val_alleles, "metrics": metrics,
                    "config": asdict(config)}
        predictor = MHCPredictor.build(encoder, learner, heads, info, {}, metadata, own.bodies)
        reference = predictor.reference_body(config.reference_per_length, config.seed)
        for allele in predictor.supported:
            predictor.set_reference(allele, reference)
        model_dir = save_predictor(predictor, out / "model")
        write_text(json.dumps(history, indent=2) + "\n", out / "history.json")
        runs.log_metrics({**metrics, "alleles": len(heads), "measurements": len(measurements.table)})
        import mlflow

        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        runs.log_files([out / "history.json", out / "rejected.csv"])
        mlflow.set_tags({"molprior.stage": "mhc-train", "molprior.prior": origin["path"],
                         "molprior.algorithm": algorithm_name(config.maml.to_dict())})
    return MHCTrainOutcome(out, model_dir, run.info.run_id, metrics, predictor)


def run_train_and_register(config: MHCTrainConfig, output_dir: str | Path, register_as: str | None = "molprior-mhc-i",
                           alias: str = "champion", progress: bool = True):
    """Train (a tracked run), then register the model and promote it to ``alias`` if it beats
    the holder on meta-validation ROC-AUC (a version that does not stays registered, unpromoted:
    the promotion says why).  Returns (outcome, version or None, promotion or None)."""
    from molprior.tracking.registry import Promotion, RegistryError, promote
    from molprior.workflows.mhc_registry import register_mhc

    with runs.tracked_run("mhc-pipeline", params={"register_as": register_as or "", "alias": alias}):
        outcome = run_mhc_training(config, output_dir, progress, nested=True)
        if not register_as:
            return outcome, None, None
        version = register_mhc(outcome.model_dir, outcome.predictor, register_as,
                               description=f"molprior MHC class I model: {len(outcome.predictor.supported)} alleles")
        try:
            promotion = promote(register_as, version.version, alias)
        except RegistryError as refused:
            log.warning("%s", refused)
            promotion = Promotion(register_as, alias, str(version.version), None, False, f"not promoted: {refused}")
    return outcome, version, promotion
