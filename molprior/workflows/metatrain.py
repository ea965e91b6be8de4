"""``molprior metatrain``: meta-train a few-shot model across assays and export it (tracked)."""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.chem.cache import FeatureCache
from molprior.chem.features import FEATURIZER_VERSION
from molprior.config import LeakGuardConfig, MetaTrainConfig, write_settings
from molprior.data import leakage
from molprior.data.assay_selection import resolve_assays
from molprior.data.prepare import PreparedTable, prepare_table
from molprior.errors import InputError
from molprior.data.tasks import FewShotTask, tasks_from_table
from molprior.evaluation.plots import plot_meta_training
from molprior.files import write_csv, write_manifest, write_text
from molprior.meta.batches import MoleculeBank
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel
from molprior.tracking import runs
from molprior.tracking.artifacts import local_model_dir, resolve_model_dir
from molprior.serialization import load_encoder, load_learner, save_learner
from molprior.training.metatrain_data import MetaDataModule, TrainingEpisodes, validation_assays
from molprior.training.frozen_features import check_prior_head, feature_module, prior_features, with_prior_trunk
from molprior.training.metatrain_module import MetaTrainModule
from molprior.training.multitask_data import MultitaskBatches
from molprior.training.multitask_module import MultitaskModule
from molprior.training.trainer import build_trainer
from molprior.workflows.inputs import prepare
from molprior.workflows.resume import resume_point
from molprior.zeroshot.heads import ZeroShotHeads, require_descriptions

log = logging.getLogger(__name__)

@dataclass
class MetaTrainOutcome:
    output_dir: Path
    model_dir: Path
    run_id: str
    metrics: dict[str, float]
    history: list[dict[str, float]]
    model_id: str | None = None


@dataclass
class Prior:
    """Where meta-training starts: an encoder, and the head's weights when the start is a
    few-shot model (``None``: a new head)."""

    encoder: GraphEncoder
    source: str
    head_config: dict | None = None
    head_state: dict[str, torch.Tensor] | None = None
    lineage: dict | None = None  # a few-shot start's own training: its run, start, objective, scores
    seen: np.ndarray | None = None  # the molecules a few-shot start was trained or selected on
    seen_skeletons: np.ndarray | None = None  # their skeleton hashes, where the start records them

    def task_model(self) -> TaskModel:
        """A few-shot start's encoder and head as one model."""
        model = TaskModel(self.encoder, HeadConfig(**self.head_config))
        model.head.load_state_dict(self.head_state)
        return model


#: ``prior`` naming the shipped few-shot model (:data:`molprior.priors` ``fewshot``).
SHIPPED_FEWSHOT = "shipped-fewshot"


def load_prior(prior: str, encoder: EncoderConfig | None = None) -> Prior:
    """The start named by ``prior`` (see :class:`~molprior.config.MetaTrainConfig`); ``encoder``
    is a random start's shape (``None``: the defaults)."""
    if prior == "random":
        return Prior(GraphEncoder(encoder or EncoderConfig()), "random initialisation")
    if prior == "shipped":
        return Prior(load_encoder(resolve_model_dir(None, kind="encoder"))[0], "shipped prior")
    if prior == SHIPPED_FEWSHOT:
        fewshot, source = resolve_model_dir(None, kind="fewshot"), "shipped few-shot model"
    else:
        path = local_model_dir(prior)
        try:
            fewshot, source = resolve_model_dir(path, kind="fewshot"), f"few-shot model at {prior}"
        except FileNotFoundError:
            return Prior(load_encoder(resolve_model_dir(path, kind="encoder"))[0], f"encoder at {prior}")
    learner, description = load_learner(fewshot)
    if description.get("adapted"):
        raise InputError(f"{prior} is a model adapted to one assay; start meta-training from a meta-trained one")
    model = learner.model
    info = description.get("metadata", {})
    lineage = {"mlflow_run_id": info.get("mlflow_run_id"), "prior": info.get("prior"),
               "objective": info.get("config", {}).get("objective", "episodic"),
               "steps_trained": info.get("metrics", {}).get("steps_trained"),
               "best_val_delta_auprc": info.get("metrics", {}).get("best_val_delta_auprc")}
    return Prior(model.encoder, source, model.head_config.to_dict(), model.head.state_dict(),
                 lineage, leakage.load_seen(fewshot), leakage.load_seen_skeletons(fewshot))


def load_prior_encoder(prior: str, encoder: EncoderConfig | None = None) -> tuple[GraphEncoder, str]:
    """The encoder meta-training starts from, and a description of where it came from."""
    start = load_prior(prior, encoder)
    return start.encoder, start.source


def start_module(config: MetaTrainConfig, num_tasks: int) -> tuple[MetaTrainModule, Prior]:
    """The training module of ``config.objective``, its weights at ``config.prior``'s start;
    and that start.  With ``freeze_prior``, a module over the prior's hidden-layer features."""
    start = load_prior(config.prior, config.encoder)
    if config.freeze_prior:
        check_prior_head(start.head_config, start.source)
        return feature_module(config.head, config.learner.to_dict(), asdict(config.optim),
                              start.head_config["hidden_dim"]), start
    args = (start.encoder.config.to_dict(), asdict(config.head), config.learner.to_dict(), asdict(config.optim))
    if config.objective == "multitask":
        module = MultitaskModule(*args, num_tasks=num_tasks, multitask=asdict(config.multitask))
    else:
        module = MetaTrainModule(*args)
    model = module.learner.model
    model.encoder.load_state_dict(start.encoder.state_dict())
    if start.head_state is not None:
        if start.head_config != model.head_config.to_dict():
            raise InputError(f"the head of {config.prior} ({start.head_config}) is not the head configured "
                             f"({model.head_config.to_dict()}): configure the same head to start from it")
        model.head.load_state_dict(start.head_state)
    return module, start


def split_tasks(prepared: PreparedTable, config: MetaTrainConfig) -> tuple[list[FewShotTask], list[FewShotTask]]:
    """Meta-training and meta-validation tasks; the test assays are left out entirely (and, for
    FS-Mol's data, its test tasks always: by default it meta-trains on FS-Mol's training tasks)."""
    table = prepared.table
    assays = prepared.assays
    groups = prepared.assay_groups
    val = resolve_assays(config.val_assays, assays, "val_assays", groups=groups)
    held_out = set(val) | set(resolve_assays(config.test_assays, assays, "test_assays", unknown_ok=True, groups=groups))
    held_out |= set(groups.get("split:test", ()))  # FS-Mol's test tasks are never meta-trained on
    candidates = groups.get("split:train", assays)  # FS-Mol: its training tasks; otherwise every assay
    train = (resolve_assays(config.train_assays, assays, "train_assays", groups=groups)
             or [a for a in candidates if a not in held_out])
    overlap = set(train) & held_out
    if overlap:
        raise InputError(f"assays both in meta-training and held out: {sorted(overlap)}")
    if not train:
        raise InputError("no meta-training assays left after removing the validation and test assays")
    if not val:
        raise InputError("meta-training chooses its checkpoint on meta-validation assays: give val_assays")
    return tasks_from_table(table, train), tasks_from_table(table, val)


def guarded_molecules(guard: LeakGuardConfig, jobs: int = 1) -> set[str]:
    """The keys (:func:`~molprior.data.leakage.molecule_key`) of the molecules ``guard`` keeps
    out of meta-training: those of its ``assays`` (all when empty) in each input of ``against``."""
    keys: set[str] = set()
    for spec in guard.against:
        prepared = prepare_table(spec, n_jobs=jobs)
        table = prepared.table
        if guard.assays:
            present = set(table["assay"].unique())
            chosen = [a for a in guard.assays if a in present]
            if not chosen:
                raise InputError(f"leak_guard: none of the assays {guard.assays} is in {spec}")
            table = table[table["assay"].isin(chosen)]
        keys |= set(leakage.molecule_keys(table["smiles"], jobs).values())
    return keys


def guard_against_leaks(train: list[FewShotTask], val: list[FewShotTask], guard: LeakGuardConfig,
                        keys: dict[str, str], jobs: int = 1) -> tuple[list[FewShotTask], list[FewShotTask], pd.DataFrame]:
    """Apply ``guard`` to the meta-training and meta-validation tasks; returns both, kept, and
    the report of what was left out (:data:`~molprior.data.leakage.GUARD_COLUMNS`, plus
    ``role``)."""
    guarded = guarded_molecules(guard, jobs)
    kept_train = leakage.guard_tasks(train, guarded, keys, guard.max_shared_fraction)
    kept_val = leakage.guard_tasks(val, guarded, keys, guard.max_shared_fraction)
    report = pd.concat([kept_train.report.assign(role="train"), kept_val.report.assign(role="validation")],
                       ignore_index=True)
    log.info("leak guard against %s: %d of %d meta-training tasks left out, %d molecules dropped from the rest",
             ", ".join(guard.against), kept_train.tasks_left_out, len(train), kept_train.molecules_dropped)
    return kept_train.kept, kept_val.kept, report


def build_bank(tasks: list[FewShotTask], jobs: int = 1, cache_dir: str | Path | None = None,
               left_out: dict[str, str] | None = None,
               featurised: tuple[MoleculeBank, dict[str, str]] | None = None) -> MoleculeBank:
    """Graphs and ECFP4 bits of every input of ``tasks`` (all of one input kind); inputs that
    do not featurise are dropped from their tasks with a warning (and their reasons added to
    ``left_out``).  ``featurised`` is a bank (and the reasons by input for those it lacks)
    already built for a whole run: it is used as it is, nothing is featurised again."""
    kinds = {t.kind for t in tasks}
    if len(kinds) > 1:
        raise InputError(f"the tasks mix input kinds {sorted(kinds)}: one bank holds one kind")
    kind = kinds.pop() if kinds else "smiles"
    inputs = [s for t in tasks for s in t.inputs]
    if featurised is not None and featurised[0].kind == kind:
        bank, failed = featurised
        errors = {s: failed.get(s, "not featurised") for s in dict.fromkeys(inputs) if s not in bank}
    else:
        with FeatureCache(cache_dir) as cache:
            bank, errors = MoleculeBank.build(inputs, fingerprint_bits=2048, n_jobs=jobs, cache=cache, kind=kind)
    if errors:
        log.warning("%d molecules could not be featurised and are left out: %s", len(errors),
                    "; ".join(f"{s}: {r}" for s, r in list(errors.items())[:5]))
        if left_out is not None:
            left_out.update({s: f"cannot featurise: {r}" for s, r in errors.items()})
    keep_featurised(tasks, bank)
    return bank


def keep_featurised(tasks: list[FewShotTask], bank: MoleculeBank) -> None:
    """Drop from ``tasks`` the molecules ``bank`` holds no features for (they did not featurise)."""
    for task in tasks:
        if any(s not in bank for s in task.inputs):
            task.keep([i for i, s in enumerate(task.inputs) if s in bank])


def run_metatraining(config: MetaTrainConfig, output_dir: str | Path, prepared: PreparedTable | None = None,
                     bank: MoleculeBank | None = None, jobs: int = 1, progress: bool = True,
                     cache_dir: str | Path | None = None, nested: bool = False,
                     run_name: str = "metatrain", resume: bool = False) -> MetaTrainOutcome:
    """Meta-train on ``config``'s meta-training assays, choose the checkpoint with the best
    meta-validation ΔAUPRC (the starting weights included: meta-training that never beats its
    start on meta-validation exports the start), export it to ``output_dir/model`` and log it
    to MLflow.

    With ``resume``, training continues from the newest usable checkpoint in ``output_dir``
    (:func:`~molprior.training.trainer.last_checkpoint`; a run killed with ``kill -9`` leaves
    one every ``checkpoint_every_n_steps`` steps and at every epoch's end) in the same MLflow
    run, and its history carries on from the checkpoint's."""
    trainer_config = config.trainer
    if str(trainer_config.devices) not in ("1", "auto") or trainer_config.num_nodes != 1 or "ddp" in trainer_config.strategy:
        raise InputError("meta-training runs in one process (its validation chooses checkpoints on per-assay scores "
                         "that would need gathering across ranks): set trainer devices 1, num_nodes 1, strategy auto; "
                         "generative pretraining is the stage that scales out with DDP")
    if config.zeroshot is not None and not config.freeze_prior:
        raise InputError("zero-shot heads are trained on a fixed prior's features: set freeze_prior")
    out = Path(output_dir)
    checkpoint, previous_run = resume_point(out, resume)
    torch.manual_seed(config.seed)  # the head's (and a random encoder's) initial weights
    with runs.tracked_run(run_name, params=None if previous_run else runs.config_params(config), nested=nested,
                          run_id=previous_run) as run:
        runs.record_run(out, run.info.run_id)
        runs.log_files([write_settings(config, out, "molprior metatrain --config {settings} -o {dir}")])
        prepared = prepared or prepare(config, jobs)
        if previous_run is None:
            runs.log_table_hash(prepared.table, "input_table")
        train_tasks, val_tasks = split_tasks(prepared, config)
        keys = leakage.molecule_keys((s for t in train_tasks + val_tasks for s in t.inputs), jobs)
        guard_report = None
        if config.leak_guard:
            train_tasks, val_tasks, guard_report = guard_against_leaks(train_tasks, val_tasks, config.leak_guard,
                                                                       keys, jobs)
            if not val_tasks:
                raise InputError("the leak guard left out every meta-validation assay")
        if config.zeroshot is not None:  # before any training: the description models need descriptions
            require_descriptions(train_tasks)
        if bank is None:
            bank = build_bank(train_tasks + val_tasks, jobs, cache_dir)
        else:
            keep_featurised(train_tasks + val_tasks, bank)
        module, start_point = start_module(config, len(train_tasks))
        source = start_point.source
        episodes_bank = prior_features(start_point.task_model(), bank) if config.freeze_prior else bank
        learner = module.learner_config
        if config.objective == "multitask":  # a step is one batch of molecules
            items_per_step = 1
            train = MultitaskBatches(train_tasks, bank, module.multitask.batch_size, config.steps_per_epoch,
                                     config.seed)
        else:
            items_per_step = config.tasks_per_step
            train = TrainingEpisodes(train_tasks, episodes_bank, config.support_sizes, config.query_size,
                                     learner.task_type, config.steps_per_epoch * config.tasks_per_step, config.seed)
        trained = train.tasks if isinstance(train, TrainingEpisodes) else train_tasks  # those it can sample from
        validation = validation_assays(val_tasks, episodes_bank, config.val_support_size, config.val_draws,
                                       learner.task_type, config.seed, config.val_protocol)
        if not validation:
            raise InputError(f"no meta-validation assay has enough actives and inactives for support size "
                             f"{config.val_support_size}")
        log.info("meta-training %s (%s objective) from the %s on %d assays; validating on %d draws of %d assays",
                 learner.algorithm, config.objective, source, len(trained), sum(len(a.episodes) for a in validation),
                 len(validation))
        trainer = build_trainer(trainer_config, out,
                                runs.lightning_logger(run.info.run_id), progress_bar=progress,
                                monitor=module.selection_metric, mode="max", inference_mode=False,
                                sanity_val_steps=-1)
        start = copy.deepcopy(module.learner.state_dict())
        if checkpoint is not None:
            log.info("resuming from %s", checkpoint)
        trainer.fit(module, datamodule=MetaDataModule(train, validation, items_per_step),
                    ckpt_path=str(checkpoint) if checkpoint else None)
        history = module.history
        best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
        best_score = trainer.checkpoint_callback.best_model_score if trainer.checkpoint_callback else None
        best_score = float(best_score) if best_score is not None else float("-inf")
        initial = history[0]["val_delta_auprc"] if history and history[0]["epoch"] == -1 else float("-inf")
        selected_step = None
        if initial > best_score:  # meta-training never beat its starting point on meta-validation
            log.warning("meta-validation ΔAUPRC was best before meta-training (%.3f > %.3f): exporting the "
                        "starting weights", initial, best_score)
            module.learner.load_state_dict(start)
            best_score, selected_step = initial, 0
        elif best:
            module = type(module).load_from_checkpoint(best, weights_only=False)
            selected_step = int(torch.load(best, map_location="cpu", weights_only=False)["global_step"])
        metrics = {"best_val_delta_auprc": best_score, "selected_step": selected_step if selected_step is not None else -1,
                   "initial_val_delta_auprc": initial, "epochs_trained": trainer.current_epoch,
                   "steps_trained": trainer.global_step}
        if guard_report is not None:
            left_out, dropped = leakage.guard_counts(guard_report[guard_report["role"] == "train"])
            metrics.update({"leak_guard.tasks_left_out": left_out, "leak_guard.molecules_dropped": dropped})
        runs.log_metrics(metrics)
        metadata = {"mlflow_run_id": run.info.run_id, "prior": source, "prior_lineage": start_point.lineage,
                    "input": str(config.input),
                    "train_assays": [t.assay for t in trained], "val_assays": [t.assay for t in val_tasks],
                    "test_assays_excluded": list(config.test_assays), "metrics": metrics,
                    "leak_guard": asdict(config.leak_guard) if config.leak_guard else None,
                    "config": asdict(config)}
        seen_inputs = list(dict.fromkeys(s for t in trained + val_tasks for s in t.inputs if s in keys))
        seen = leakage.seen_keys(keys[s] for s in seen_inputs)
        skeletons = leakage.seen_skeletons(bank.graphs.select(bank.indices(seen_inputs)))
        if start_point.seen is not None:  # what the start saw, the model has seen too
            seen = np.union1d(seen, start_point.seen)
            skeletons = (None if start_point.seen_skeletons is None
                         else np.union1d(skeletons, start_point.seen_skeletons))
        exported = module.learner
        if config.freeze_prior:  # the prior's encoder and hidden layer back in front of the head
            exported = with_prior_trunk(exported, start_point.encoder, start_point.head_config, start_point.head_state)
        model_dir = save_learner(exported, out / "model", metadata, seen=seen, seen_skeletons=skeletons)
        if config.zeroshot is not None:  # a code per training task, and the description models
            ZeroShotHeads.train(module.learner, trained, episodes_bank, config.zeroshot, config.seed).save(model_dir)
            write_manifest(model_dir)
        write_text(json.dumps(history, indent=2) + "\n", out / "history.json")
        outputs = [out / "history.json"]
        if guard_report is not None:
            outputs.append(write_csv(guard_report, out / "leak_guard.csv"))
        if history:
            outputs.append(plot_meta_training(history, out / "meta_training.png"))
        import mlflow

        mlflow.log_artifacts(str(model_dir), artifact_path="model")
        runs.log_files(outputs)
        tags = {"molprior.featurizer_version": FEATURIZER_VERSION, "molprior.stage": "metatrain",
                "molprior.algorithm": learner.algorithm, "molprior.prior": source,
                "molprior.objective": config.objective}
        model_id = runs.log_model_dir("model", model_dir, "molprior-fewshot", tags)
    return MetaTrainOutcome(out, model_dir, run.info.run_id, metrics, history, model_id)
