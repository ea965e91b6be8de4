"""The few-shot benchmark job: prepare the table, run the protocol, write and track results."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from molprior.config import (ADKF_HEAD, ADKF_LEARNER, ADKF_OPTIM, FSMOL_METHOD_DRAWS, FSMOL_TABLE_METATRAIN,
                             HYPER_METATRAIN, FewShotConfig, MetaTrainConfig)
from molprior.data.assay_selection import resolve_assays
from molprior.data.prepare import PreparedTable
from molprior.errors import InputError
from molprior.data.episodes import PROTOCOLS
from molprior.data.tasks import FewShotTask, set_aside_unfingerprintable, tasks_from_table
from molprior.evaluation.fewshot import (BASELINES, Method, by_protein_class, format_results, fsmol_summary, run_fewshot,
                                         summarize)
from molprior.evaluation.calibration import calibration_summary
from molprior.evaluation.plots import plot_metric_vs_support
from molprior.files import write_csv
from molprior.meta.learner import LearnerConfig
from molprior.models.heads import HeadConfig
from molprior.tracking import runs
from molprior.typed_configs import merged, merged_mappings
from molprior.workflows.inputs import prepare
from molprior.workflows.progress import progress_bar
from molprior.zeroshot.heads import ZERO_SHOT_METHODS

if TYPE_CHECKING:
    from molprior.meta.batches import MoleculeBank
    from molprior.meta.learner import FewShotLearner
    from molprior.zeroshot.heads import ZeroShotHeads

log = logging.getLogger(__name__)


@dataclass
class FewShotOutcome:
    summary: pd.DataFrame
    per_task: pd.DataFrame
    per_draw: pd.DataFrame
    table_text: str
    outputs: dict[str, Path]


def benchmark_metatrain_config(config: FewShotConfig, seed: int) -> MetaTrainConfig:
    """The benchmark's meta-training: ``config.metatrain`` over the defaults (and
    ``config.metatrain_defaults``), on the input's assays other than its test and validation
    ones (which choose the checkpoints)."""
    settings = merged_mappings(config.metatrain_defaults, config.metatrain)
    # the zero-shot heads are hyper_maml's alone (hyper_metatrain_config)
    return merged(MetaTrainConfig(), {**settings, "zeroshot": None, **_benchmark_split(config, seed)})


def _benchmark_split(config: FewShotConfig, seed: int) -> dict:
    return {"input": config.input, "val_assays": config.val_assays, "test_assays": config.test_assays, "seed": seed}


def _to_metatrain(names: list[str], config: FewShotConfig) -> list[str]:
    return [m for m in names if (m in META_METHODS or m in HYPER_METHODS)
            and not (m == "maml_pretrained" and config.model)]


def neural_bank(names: list[str], config: FewShotConfig, prepared: PreparedTable, tasks: list[FewShotTask],
                jobs: int = 1, left_out: dict[str, str] | None = None,
                featurised: tuple[MoleculeBank, dict[str, str]] | None = None) -> MoleculeBank:
    """Featurise, once for all seeds, the test assays' molecules and, when a method of ``names``
    is meta-trained, those of the meta-training and validation assays (or take them from
    ``featurised``, a run's bank: :func:`molprior.workflows.metatrain.build_bank`).  Molecules
    that do not featurise are dropped from ``tasks`` (for every method alike), their reasons
    added to ``left_out``."""
    from molprior.workflows.metatrain import build_bank, split_tasks

    to_train = _to_metatrain(names, config)
    meta_tasks: list[FewShotTask] = []
    if to_train:
        if not config.val_assays:
            raise InputError(f"{to_train} are meta-trained and choose their checkpoints on meta-validation assays: "
                             "give --val-assays")
        train, val = split_tasks(prepared, benchmark_metatrain_config(config, config.seed))
        meta_tasks = train + val
    return build_bank(tasks + meta_tasks, jobs, left_out=left_out, featurised=featurised)


def neural_methods(names: list[str], config: FewShotConfig, prepared: PreparedTable, bank: MoleculeBank,
                   output_dir: Path, seed: int, jobs: int = 1, score_bank: MoleculeBank | None = None
                   ) -> dict[str, Method]:
    """The neural methods of ``names`` (see :mod:`molprior.evaluation.learner_methods`),
    meta-training those that need it on the input's other assays (nested MLflow runs, models
    under ``output_dir``) with the molecules of ``bank`` (:func:`neural_bank`); they score the
    molecules of ``score_bank`` (default ``bank``)."""
    import torch

    from molprior.evaluation.learner_methods import learner_method
    from molprior.meta.learner import FewShotLearner
    from molprior.models.encoder import EncoderConfig, GraphEncoder
    from molprior.models.heads import TaskModel
    from molprior.serialization import load_learner
    from molprior.workflows.adapt import load_fewshot_model
    from molprior.workflows.metatrain import load_prior_encoder, run_metatraining

    base = benchmark_metatrain_config(config, seed)
    head = base.head
    methods: dict[str, Method] = {}
    hyper: HyperModel | None = None
    for name in names:
        torch.manual_seed(seed)
        if name in HYPER_METHODS:  # one hyper_maml model (and its zero-shot heads), loaded once, for all of them
            if hyper is None:
                log.info("meta-training hyper_maml (seed %d)", seed)
                variant = hyper_metatrain_config(config, seed)
                if not set(names) & set(DESCRIPTION_METHODS):  # the description models only where they are scored
                    variant = replace(variant, zeroshot=None)
                hyper = HyperModel.load(run_metatraining(
                    variant, output_dir / "models" / f"hyper_maml-seed{seed}", prepared=prepared, bank=bank, jobs=jobs,
                    progress=False, nested=True, run_name="metatrain-hyper_maml").model_dir)
            methods[name] = hyper.method(name, bank if score_bank is None else score_bank)
            continue
        if name == "gnn_scratch":
            learner = FewShotLearner(TaskModel(GraphEncoder(base.encoder or EncoderConfig()), head),
                                     LearnerConfig(algorithm="finetune", finetune_steps=config.finetune_steps))
        elif name == "pretrained_finetune":
            encoder, _ = load_prior_encoder(base.prior if base.prior != "random" else "shipped")
            learner = FewShotLearner(TaskModel(encoder, head), LearnerConfig(algorithm="finetune", finetune_head_only=True,
                                                                             finetune_steps=config.finetune_steps))
        elif name == "molprior" or (name == "maml_pretrained" and config.model):
            learner, _, _ = load_fewshot_model(config.model)
        else:
            variant = (hyper_metatrain_config(config, seed) if name == "hyper_maml"
                       else method_metatrain_config(name, base, config.metatrain))
            log.info("meta-training %s (seed %d)", name, seed)
            outcome = run_metatraining(variant, output_dir / "models" / f"{name}-seed{seed}", prepared=prepared,
                                       bank=bank, jobs=jobs, progress=False, nested=True, run_name=f"metatrain-{name}")
            learner, _ = load_learner(outcome.model_dir)
        methods[name] = learner_method(learner, bank if score_bank is None else score_bank)
    return methods


@dataclass
class HyperModel:
    """A hyper_maml model and its zero-shot heads (``None`` when trained without them)."""

    learner: FewShotLearner
    heads: ZeroShotHeads | None

    @classmethod
    def load(cls, model_dir: Path) -> "HyperModel":
        from molprior.serialization import load_learner
        from molprior.zeroshot.heads import DIRECTORY, ZeroShotHeads

        learner, _ = load_learner(model_dir)
        return cls(learner, ZeroShotHeads.load(model_dir) if (model_dir / DIRECTORY).is_dir() else None)

    def method(self, name: str, bank: MoleculeBank) -> Method:
        """Few-shot (``hyper_maml``, or ``hyper_maml_described`` starting from the code of the
        task's description) or zero-shot (:data:`~molprior.zeroshot.heads.ZERO_SHOT_METHODS`)."""
        from molprior.evaluation.learner_methods import learner_method, zero_shot_method

        if name == "hyper_maml":
            return learner_method(self.learner, bank)
        heads = self.heads
        if name == "hyper_maml_described":
            return learner_method(self.learner, bank, start=lambda task: heads.latent(described_text(task)))
        return zero_shot_method(self.learner, bank, lambda task, seed: heads.latent(described_text(task), name,
                                                                                       seed=seed))


def described_text(task: FewShotTask) -> str:
    """The task's description, or a clear error for a task without one."""
    if not task.description:
        raise InputError(f"assay {task.assay} has no description: the zero-shot methods read the target "
                         "metadata of FS-Mol's tasks (dataset:fsmol)")
    return task.description


def method_metatrain_config(name: str, base: MetaTrainConfig, given: dict) -> MetaTrainConfig:
    """The meta-training of the method ``name`` (one of :data:`META_METHODS`): ``base`` (the
    benchmark's meta-training, ``given`` over the defaults) changed as the method needs."""
    if name == "protonet":
        return replace(base, learner=replace(base.learner, algorithm="protonet"))
    if name == "maml_scratch":  # without a prior the encoder has to be meta-trained too
        return replace(base, prior="random", optim=replace(base.optim, encoder_lr_scale=1.0))
    if name in ("adkf", "adkf_scratch"):  # the GP head; the encoder learns from the tasks
        # ADKF-IFT's recipe, the user's settings winning over it
        variant = replace(base, learner=merged(LearnerConfig(), {**ADKF_LEARNER, "gp": given.get("learner", {}).get("gp", {})}),
                          head=merged(HeadConfig(), {**ADKF_HEAD, **given.get("head", {})}),
                          optim=merged(base.optim, {**ADKF_OPTIM, **given.get("optim", {})}))
        if name == "adkf_scratch":
            variant = replace(variant, prior="random", optim=replace(variant.optim, encoder_lr_scale=1.0))
        return variant
    return base


#: What configures the ablations' models, not hyper_maml's (its recipe does).
ARCHITECTURE_KEYS = ("prior", "encoder", "head", "learner", "optim", "objective", "multitask", "freeze_prior")


def hyper_metatrain_config(config: FewShotConfig, seed: int) -> MetaTrainConfig:
    """``hyper_maml``'s meta-training: its recipe (:data:`HYPER_METATRAIN`, the fsmol_hyper
    preset's) with the user's ``config.metatrain`` budget and data settings over it (not the
    :data:`ARCHITECTURE_KEYS`, which configure the ablations), on the benchmark's split."""
    given = {key: value for key, value in config.metatrain.items() if key not in ARCHITECTURE_KEYS}
    return merged(MetaTrainConfig(), {**merged_mappings(HYPER_METATRAIN, given), **_benchmark_split(config, seed)})


def _timed_run(tasks: list[FewShotTask], config: FewShotConfig, methods: dict[str, Method], seed: int,
               progress, jobs: int) -> pd.DataFrame:
    """:func:`run_fewshot` for one group of methods, its duration logged; zero-shot methods at
    support size 0 alone, the others at the configured sizes."""
    start = time.perf_counter()
    zero_shot = set(methods) <= set(ZERO_SHOT_METHODS)
    sizes = [0] if zero_shot else config.support_sizes
    per_draw = run_fewshot(tasks, sizes, methods, 1 if zero_shot else config.draws, seed, progress=progress,
                           protocol=config.protocol, jobs=jobs, method_draws=config.method_draws)
    log.info("scored %s in %.0f s", ", ".join(methods), time.perf_counter() - start)
    return per_draw


def in_protocol_order(per_draw: pd.DataFrame, tasks: list[FewShotTask], methods: list[str]) -> pd.DataFrame:
    """Rows by assay (in ``tasks`` order), support size, draw, then method (in ``methods`` order)."""
    if per_draw.empty:
        return per_draw
    assay_rank = {t.assay: i for i, t in enumerate(tasks)}
    method_rank = {m: i for i, m in enumerate(methods)}
    keys = per_draw.assign(_a=per_draw["assay"].map(assay_rank), _m=per_draw["method"].map(method_rank))
    return (keys.sort_values(["_a", "support_size", "draw", "_m"], kind="stable").drop(columns=["_a", "_m"])
            .reset_index(drop=True))


def rejected_with(prepared: PreparedTable, left_out: dict[str, str]) -> pd.DataFrame:
    """The input's rejected rows plus the rows of molecules left out after reading (no
    fingerprint, no graph), each with its reason, in line order."""
    if not left_out:
        return prepared.rejected
    rows = prepared.table[prepared.table["smiles"].isin(left_out)]
    extra = pd.DataFrame({"line": rows["line"].to_numpy(), "input": rows["input"].to_numpy(), "column": "smiles",
                          "reason": rows["smiles"].map(left_out).to_numpy()})
    return pd.concat([prepared.rejected, extra], ignore_index=True).sort_values("line", kind="stable")


#: The methods of the hyper_maml model meta-trained in the run: few-shot, and zero-shot (scored
#: at support size 0, the whole task their query).
HYPER_METHODS = ("hyper_maml", "hyper_maml_described", *ZERO_SHOT_METHODS)
DESCRIPTION_METHODS = HYPER_METHODS[1:]
NEURAL_METHODS = ("gnn_scratch", "pretrained_finetune", "protonet", "maml_scratch", "maml_pretrained", "adkf",
                  "adkf_scratch", *HYPER_METHODS, "molprior")
META_METHODS = ("protonet", "maml_scratch", "maml_pretrained", "adkf", "adkf_scratch")
METHODS = (*BASELINES, *NEURAL_METHODS)


#: FS-Mol's support sizes; other inputs default to the first three.
FSMOL_SUPPORT_SIZES = (16, 32, 64, 128)


def with_defaults(config: FewShotConfig, prepared: PreparedTable) -> FewShotConfig:
    """``config`` with its protocol, support sizes and assays filled in for ``prepared`` (FS-Mol's
    data: its protocol, sizes, test and valid tasks) and its assay lists resolved to names."""
    fsmol = prepared.format == "fsmol"
    protocol = config.protocol or ("fsmol" if fsmol else "balanced")
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    sizes = config.support_sizes or list(FSMOL_SUPPORT_SIZES if fsmol else FSMOL_SUPPORT_SIZES[:3])
    test = config.test_assays or (["split:test"] if fsmol else [])
    val = config.val_assays or (["split:valid"] if fsmol else [])
    if not test:
        raise InputError("no test assays given (--test-assays)")
    groups = prepared.assay_groups
    test = resolve_assays(test, prepared.assays, "--test-assays", groups=groups)
    val = resolve_assays(val, prepared.assays, "--val-assays", groups=groups)
    if not config.val_assays and set(val) & set(test):  # testing on FS-Mol's valid tasks themselves
        val = []
    method_draws = config.method_draws if config.method_draws is not None else (FSMOL_METHOD_DRAWS if fsmol else {})
    return replace(config, protocol=protocol, support_sizes=sizes, test_assays=test, val_assays=val,
                   method_draws=dict(method_draws),
                   metatrain_defaults=dict(FSMOL_TABLE_METATRAIN) if fsmol else config.metatrain_defaults)


def protein_classes(prepared: PreparedTable) -> dict[str, str]:
    """Each assay's protein class, where the input carries one (FS-Mol's task metadata)."""
    if "protein_class" not in prepared.table.columns:
        return {}
    first = prepared.table.drop_duplicates("assay")
    return dict(zip(first["assay"], first["protein_class"].replace("", "unknown")))


def given_model_used(config: FewShotConfig) -> bool:
    """Whether a method of ``config`` scores an already meta-trained model (``molprior``, or
    ``maml_pretrained`` with ``model``)."""
    return "molprior" in config.methods or ("maml_pretrained" in config.methods and config.model is not None)


def models_trained_on_other_data(config: FewShotConfig) -> list[str | None]:
    """The few-shot models whose training data the scored methods carry: the given model
    (:func:`given_model_used`; ``None``: the shipped one) and ``hyper_maml``'s fixed prior."""
    from molprior.workflows.metatrain import SHIPPED_FEWSHOT

    models: list[str | None] = [config.model] if given_model_used(config) else []
    if set(HYPER_METHODS) & set(config.methods):
        prior = hyper_metatrain_config(config, config.seed).prior
        models.append(None if prior == SHIPPED_FEWSHOT else prior)
    return models


def leave_out_seen(config: FewShotConfig, prepared: PreparedTable, tasks: list[FewShotTask],
                   jobs: int = 1) -> pd.DataFrame:
    """The test assays' molecules that a model the scored methods carry
    (:func:`models_trained_on_other_data`) was meta-trained or selected on, per assay
    (:data:`SEEN_COLUMNS`).  On FS-Mol's own test tasks under FS-Mol's protocol, which holds
    out assays and not molecules, they are counted and kept (FS-Mol's draws index every
    molecule); on any other input they are dropped from the test assays, for every method
    alike, so that no method is scored on them."""
    from molprior.data import leakage
    from molprior.tracking.artifacts import resolve_model_dir

    models = models_trained_on_other_data(config)
    if not models:
        return pd.DataFrame(columns=list(SEEN_COLUMNS))
    records = [leakage.load_seen(resolve_model_dir(model, kind="fewshot")) for model in dict.fromkeys(models)]
    if any(record is None for record in records):
        log.warning("a model scored does not record its meta-training molecules: its overlap with the test assays "
                    "cannot be checked")
    records = [record for record in records if record is not None]
    if not records:
        return pd.DataFrame(columns=list(SEEN_COLUMNS))
    seen = records[0] if len(records) == 1 else np.unique(np.concatenate(records))
    keep = prepared.format == "fsmol" and config.protocol == "fsmol"
    rows = []
    for task in tasks:
        mask = leakage.seen_mask(task.inputs, seen, jobs)
        if mask.any():
            rows.append({"assay": task.assay, "molecules": len(task.inputs), "seen": int(mask.sum()),
                         "action": "kept (FS-Mol holds out assays)" if keep else "left out"})
            if not keep:
                task.keep(np.flatnonzero(~mask))
    report = pd.DataFrame(rows, columns=list(SEEN_COLUMNS))
    if len(report):
        log.warning("%d test molecules of %d assays were in the model's meta-training data: %s", report["seen"].sum(),
                    len(report), "counted and kept, as FS-Mol's protocol does" if keep else "left out for every method")
    return report


#: Columns of ``seen_molecules.csv``: per test assay, its molecules the given model had seen.
SEEN_COLUMNS = ("assay", "molecules", "seen", "action")


def run_benchmark(config: FewShotConfig, output_dir: str | Path, prepared: PreparedTable | None = None,
                  jobs: int = 1, featurised: tuple[MoleculeBank, dict[str, str]] | None = None) -> FewShotOutcome:
    """Run the few-shot protocol of ``config`` and write ``results.csv``, ``per_task.csv``
    (FS-Mol's summary columns, one row per draw), ``by_protein_class.csv`` (where the input
    carries protein classes), ``calibration.csv`` (for methods with a predictive spread),
    ``seen_molecules.csv`` (when a given meta-trained model is scored: :func:`leave_out_seen`),
    ``rejected.csv`` and ``delta_auprc.png`` into ``output_dir``;
    log them to the active MLflow run when there is one.  ``featurised`` is the run's bank of
    the input's molecules, when a pipeline built one (nothing is featurised again)."""
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown methods {unknown}; available: {', '.join(METHODS)}")
    unknown = [m for m in config.method_draws or {} if m not in METHODS]
    if unknown:
        raise InputError(f"method_draws names unknown methods {unknown}; available: {', '.join(METHODS)}")
    prepared = prepared or prepare(config, jobs)
    config = with_defaults(config, prepared)
    overlap = set(config.test_assays) & set(config.val_assays)
    if overlap:
        raise InputError(f"assays both in the test and the validation set: {sorted(overlap)}")
    tasks = tasks_from_table(prepared.table, config.test_assays)
    seen = leave_out_seen(config, prepared, tasks, jobs)
    left_out = set_aside_unfingerprintable(tasks)
    out = Path(output_dir)
    frames = []
    neural = [name for name in config.methods if name in NEURAL_METHODS]
    bank = neural_bank(neural, config, prepared, tasks, jobs, left_out, featurised) if neural else None
    # the test assays' molecules alone: what the workers scoring the neural methods are sent
    score_bank = bank.subset([s for t in tasks for s in t.inputs]) if neural else None
    for seed in config.all_seeds:
        baselines = {name: BASELINES[name] for name in config.methods if name in BASELINES}
        learners = neural_methods(neural, config, prepared, bank, out, seed, jobs, score_bank) if neural else {}
        zero_shot = {name: learners.pop(name) for name in list(learners) if name in ZERO_SHOT_METHODS}
        few_shot = len(config.methods) - len(zero_shot)
        total = len(tasks) * (len(config.support_sizes) * config.draws * few_shot + len(zero_shot))
        with progress_bar(f"few-shot protocol (seed {seed})", total) as advance:
            # in worker processes, a few chunks of assays each
            parts = [_timed_run(tasks, config, group, seed, advance, jobs)
                     for group in (baselines, learners, zero_shot) if group]
        frames.append(in_protocol_order(pd.concat(parts, ignore_index=True), tasks, config.methods).assign(seed=seed))
    per_draw = pd.concat(frames, ignore_index=True)
    summary = summarize(per_draw)
    per_task = fsmol_summary(per_draw)
    outputs = {
        "results": write_csv(summary, out / "results.csv"),
        "per_task": write_csv(per_task, out / "per_task.csv"),
        "rejected": write_csv(rejected_with(prepared, left_out), out / "rejected.csv"),
    }
    if models_trained_on_other_data(config):
        outputs["seen_molecules"] = write_csv(seen, out / "seen_molecules.csv")
    calibration = calibration_summary(per_draw)
    if len(calibration):
        outputs["calibration"] = write_csv(calibration, out / "calibration.csv")
    classes = protein_classes(prepared)
    if classes:
        outputs["by_protein_class"] = write_csv(by_protein_class(per_draw, classes), out / "by_protein_class.csv")
    if len(summary):
        outputs["plot"] = plot_metric_vs_support(summary, out / "delta_auprc.png")
    if runs.active():
        runs.log_params({"protocol.resolved": config.protocol, "support_sizes.resolved": config.support_sizes,
                         "n_test_assays": len(config.test_assays), "n_val_assays": len(config.val_assays)})
        if models_trained_on_other_data(config):
            runs.log_metrics({"test_molecules_seen_by_model": int(seen["seen"].sum())})
        runs.log_table_hash(prepared.table, "input_table")
        runs.log_metrics({f"{r.method}.{r.metric}.k{r.support_size}": r.mean for r in summary.itertuples()})
        runs.log_files(outputs, artifact_path="fewshot")
    return FewShotOutcome(summary, per_task, per_draw, format_results(summary), outputs)
