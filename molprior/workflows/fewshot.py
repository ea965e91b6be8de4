"""The few-shot benchmark job: prepare the table, run the protocol, write and track results."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from molprior.config import FewShotConfig, MetaTrainConfig
from molprior.data.assay_selection import resolve_assays
from molprior.data.prepare import PreparedTable, prepare_table
from molprior.evaluation.fewshot import (BASELINES, FewShotTask, Method, format_results, per_task_means, run_fewshot,
                                         set_aside_unfingerprintable, summarize, tasks_from_table)
from molprior.evaluation.plots import plot_metric_vs_support
from molprior.files import write_csv
from molprior.tracking import runs
from molprior.workflows.progress import progress_bar

if TYPE_CHECKING:
    from molprior.meta.batches import MoleculeBank

log = logging.getLogger(__name__)


@dataclass
class FewShotOutcome:
    summary: pd.DataFrame
    per_task: pd.DataFrame
    per_draw: pd.DataFrame
    table_text: str
    outputs: dict[str, Path]


def prepare(config: FewShotConfig, jobs: int) -> PreparedTable:
    """Read and standardise the benchmark input, with a progress bar."""
    with progress_bar("standardising", None) as advance:
        prepared = prepare_table(config.input, config.spec, n_jobs=jobs, progress=advance, on_read=advance.set_total)
    log.info("%d measurements of %d molecules in %d assays; %d input lines rejected",
             len(prepared.table), prepared.table["smiles"].nunique(), prepared.table["assay"].nunique(),
             prepared.rejected["line"].nunique() if len(prepared.rejected) else 0)
    return prepared


def _base_metatrain(config: FewShotConfig, seed: int) -> MetaTrainConfig:
    return MetaTrainConfig(**{**config.metatrain, "input": config.input, "val_assays": config.val_assays,
                              "test_assays": config.test_assays, "seed": seed})


def _to_metatrain(names: list[str], config: FewShotConfig) -> list[str]:
    return [m for m in names if m in META_METHODS and not (m == "maml_pretrained" and config.model)]


def neural_bank(names: list[str], config: FewShotConfig, prepared: PreparedTable, tasks: list[FewShotTask],
                jobs: int = 1, left_out: dict[str, str] | None = None) -> MoleculeBank:
    """Featurise, once for all seeds, the test assays' molecules and, when a method of ``names``
    is meta-trained, those of the meta-training and validation assays.  Molecules that do not
    featurise are dropped from ``tasks`` (for every method alike), their reasons added to
    ``left_out``."""
    from molprior.workflows.metatrain import build_bank, split_tasks

    to_train = _to_metatrain(names, config)
    meta_tasks: list[FewShotTask] = []
    if to_train:
        if not config.val_assays:
            raise ValueError(f"{to_train} are meta-trained and choose their checkpoints on meta-validation assays: "
                             "give --val-assays")
        train, val = split_tasks(prepared, _base_metatrain(config, config.seed))
        meta_tasks = train + val
    return build_bank(tasks + meta_tasks, jobs, left_out=left_out)


def neural_methods(names: list[str], config: FewShotConfig, prepared: PreparedTable, bank: MoleculeBank,
                   output_dir: Path, seed: int, jobs: int = 1) -> dict[str, Method]:
    """The neural methods of ``names`` (see :mod:`molprior.evaluation.learner_methods`) on the
    molecules of ``bank`` (:func:`neural_bank`), meta-training those that need it on the
    input's other assays (nested MLflow runs, models under ``output_dir``)."""
    import torch

    from molprior.evaluation.learner_methods import learner_method
    from molprior.meta.learner import FewShotLearner, LearnerConfig
    from molprior.models.encoder import EncoderConfig, GraphEncoder
    from molprior.models.heads import HeadConfig, TaskModel
    from molprior.training.export import load_learner
    from molprior.workflows.adapt import load_fewshot_model
    from molprior.workflows.metatrain import load_prior_encoder, run_metatraining

    base = _base_metatrain(config, seed)
    head = HeadConfig(**base.head)
    methods: dict[str, Method] = {}
    for name in names:
        torch.manual_seed(seed)
        if name == "gnn_scratch":
            learner = FewShotLearner(TaskModel(GraphEncoder(EncoderConfig(**base.encoder)), head),
                                     LearnerConfig(algorithm="finetune", finetune_steps=config.finetune_steps))
        elif name == "pretrained_finetune":
            encoder, _ = load_prior_encoder(base.prior if base.prior != "random" else "shipped")
            learner = FewShotLearner(TaskModel(encoder, head), LearnerConfig(algorithm="finetune", finetune_head_only=True,
                                                                             finetune_steps=config.finetune_steps))
        elif name == "maml_pretrained" and config.model:
            learner, _, _ = load_fewshot_model(config.model)
        else:
            variant = MetaTrainConfig(**{**vars(base)})
            if name == "protonet":
                variant.learner = {**base.learner, "algorithm": "protonet"}
            elif name == "maml_scratch":  # without a prior the encoder has to be meta-trained too
                variant.prior = "random"
                variant.optim = {**base.optim, "encoder_lr_scale": 1.0}
            log.info("meta-training %s (seed %d)", name, seed)
            outcome = run_metatraining(variant, output_dir / "models" / f"{name}-seed{seed}", prepared=prepared,
                                       bank=bank, jobs=jobs, progress=False, nested=True, run_name=f"metatrain-{name}")
            learner, _ = load_learner(outcome.model_dir)
        methods[name] = learner_method(learner, bank)
    return methods


def rejected_with(prepared: PreparedTable, left_out: dict[str, str]) -> pd.DataFrame:
    """The input's rejected rows plus the rows of molecules left out after reading (no
    fingerprint, no graph), each with its reason, in line order."""
    if not left_out:
        return prepared.rejected
    rows = prepared.table[prepared.table["smiles"].isin(left_out)]
    extra = pd.DataFrame({"line": rows["line"].to_numpy(), "input": rows["input"].to_numpy(), "column": "smiles",
                          "reason": rows["smiles"].map(left_out).to_numpy()})
    return pd.concat([prepared.rejected, extra], ignore_index=True).sort_values("line", kind="stable")


NEURAL_METHODS = ("gnn_scratch", "pretrained_finetune", "protonet", "maml_scratch", "maml_pretrained")
META_METHODS = ("protonet", "maml_scratch", "maml_pretrained")
METHODS = (*BASELINES, *NEURAL_METHODS)


def run_benchmark(config: FewShotConfig, output_dir: str | Path, prepared: PreparedTable | None = None,
                  jobs: int = 1) -> FewShotOutcome:
    """Run the few-shot protocol of ``config`` and write ``results.csv``, ``per_task.csv``,
    ``per_draw.csv`` and ``delta_auprc.png`` into ``output_dir``; log them to the active
    MLflow run when there is one."""
    unknown = [m for m in config.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; available: {', '.join(METHODS)}")
    if not config.test_assays:
        raise ValueError("no test assays given (--test-assays)")
    prepared = prepared or prepare(config, jobs)
    config = replace(config, test_assays=resolve_assays(config.test_assays, prepared.assays, "--test-assays"),
                     val_assays=resolve_assays(config.val_assays, prepared.assays, "--val-assays"))
    overlap = set(config.test_assays) & set(config.val_assays)
    if overlap:
        raise ValueError(f"assays both in the test and the validation set: {sorted(overlap)}")
    tasks = tasks_from_table(prepared.table, config.test_assays)
    left_out = set_aside_unfingerprintable(tasks)
    out = Path(output_dir)
    frames = []
    neural = [name for name in config.methods if name in NEURAL_METHODS]
    bank = neural_bank(neural, config, prepared, tasks, jobs, left_out) if neural else None
    for seed in config.all_seeds:
        methods = {name: BASELINES[name] for name in config.methods if name in BASELINES}
        if neural:
            methods.update(neural_methods(neural, config, prepared, bank, out, seed, jobs))
        methods = {name: methods[name] for name in config.methods}
        total = len(tasks) * len(config.support_sizes) * config.draws * len(methods)
        with progress_bar(f"few-shot protocol (seed {seed})", total) as advance:
            frame = run_fewshot(tasks, config.support_sizes, methods, config.draws, seed, progress=advance)
        frames.append(frame.assign(seed=seed))
    per_draw = pd.concat(frames, ignore_index=True)
    summary = summarize(per_draw)
    per_task = per_task_means(per_draw) if len(per_draw) else pd.DataFrame()
    outputs = {
        "results": write_csv(summary, out / "results.csv"),
        "per_task": write_csv(per_task, out / "per_task.csv"),
        "per_draw": write_csv(per_draw, out / "per_draw.csv"),
        "rejected": write_csv(rejected_with(prepared, left_out), out / "rejected.csv"),
    }
    if len(summary):
        outputs["plot"] = plot_metric_vs_support(summary, out / "delta_auprc.png")
    if runs.active():
        runs.log_table_hash(prepared.table, "input_table")
        runs.log_metrics({f"{r.method}.{r.metric}.k{r.support_size}": r.mean for r in summary.itertuples()})
        runs.log_files(outputs, artifact_path="fewshot")
    return FewShotOutcome(summary, per_task, per_draw, format_results(summary), outputs)
