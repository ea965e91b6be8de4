"""``molprior pipeline run`` (and ``molprior demo``): pretrain -> meta-train -> benchmark ->
register -> score, as one parent MLflow run with a nested child run per step.

A step listed in ``config.reuse`` takes an earlier run's results (its model, its metrics)
instead of recomputing.  The registered version carries the whole lineage as tags (see
:func:`molprior.tracking.lineage.lineage_tags`) and is promoted to the configured alias when
it beats the holder on the benchmark metric.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import featurize_smiles
from molprior.parallel import available_cores
from molprior.config import PipelineConfig, write_settings
from molprior.data.episodes import stratified_episode
from molprior.data.input_kinds import input_kind
from molprior.errors import InputError
from molprior.data.tasks import tasks_from_table
from molprior.metrics.generation import generation_metrics
from molprior.metrics.classification import delta_auprc, roc_auc
from molprior.files import file_hash, write_csv
from molprior.meta.batches import MoleculeBank
from molprior.models.generative import sample_smiles
from molprior.tracking import registry, runs
from molprior.tracking.artifacts import resolve_model_dir
from molprior.tracking.lineage import lineage_tags
from molprior.serialization import load_generator
from molprior.workflows.fewshot import FewShotOutcome, run_benchmark
from molprior.workflows.inputs import prepare
from molprior.workflows.progress import progress_bar

log = logging.getLogger(__name__)
STEPS = ("pretrain", "metatrain", "benchmark", "register", "score")
REUSABLE = ("pretrain", "metatrain", "benchmark")  # steps whose results a later pipeline can take


@dataclass
class PipelineOutcome:
    run_id: str
    fewshot: FewShotOutcome | None = None
    pretraining: object | None = None  # PretrainOutcome when this pipeline pretrained
    generated: list[str] = field(default_factory=list)
    generated_from: str = ""
    step_runs: dict[str, str] = field(default_factory=dict)  # step -> MLflow run id (new or reused)
    metatrained_model: Path | None = None
    registered: object | None = None  # the MLflow ModelVersion
    promotion: registry.Promotion | None = None
    promotion_refused: str = ""
    scores: Path | None = None
    score_metrics: dict[str, float] = field(default_factory=dict)


def check_reuse(reuse: dict) -> dict[str, object]:
    """The runs named in ``reuse`` (step -> run id), checked to exist before anything starts."""
    import mlflow
    from mlflow.exceptions import MlflowException

    if not reuse:
        return {}
    unknown = sorted(set(reuse) - set(REUSABLE))
    if unknown:
        raise InputError(f"reuse: {unknown} cannot be reused; the steps that can are {', '.join(REUSABLE)}")
    found = {}
    client = mlflow.MlflowClient(runs.tracking_uri())
    for step, run_id in reuse.items():
        try:
            found[step] = client.get_run(str(run_id))
        except MlflowException:
            raise InputError(f"reuse {step}: no MLflow run {run_id!r} in {runs.tracking_uri()}") from None
        command = found[step].data.tags.get("molprior.command", "")
        if not command.startswith(step):
            raise InputError(f"reuse {step}: run {run_id} is a {command or 'non-molprior'} run, not a {step} run")
    return found


def run_pipeline(config: PipelineConfig, cache_dir: str | Path | None = None, name: str = "pipeline") -> PipelineOutcome:
    """Run every step of ``config`` (see the module docstring); returns what each produced."""
    runs.check_tracking_server()
    jobs = available_cores() if config.jobs == -1 else config.jobs
    out = Path(config.output)
    params = {f"fewshot.{k}": v for k, v in asdict(config.fewshot).items() if v is not None}
    params.update({f"register.{k}": v for k, v in asdict(config.register).items()})
    params.update({"jobs": jobs, "prior": config.prior, **{f"reuse.{k}": v for k, v in config.reuse.items()}})
    reused = check_reuse(config.reuse)  # before anything starts
    with runs.tracked_run(name, params=params) as parent:
        runs.log_files([write_settings(config, out, "molprior pipeline run {settings}")])
        outcome = PipelineOutcome(parent.info.run_id)
        hashes = {"input": runs.log_input_file(config.fewshot.input, "input")}
        prepared = prepare(config.fewshot, jobs)
        hashes["input_table"] = runs.log_table_hash(prepared.table, "input_table")
        featurised = _featurise(prepared, jobs, cache_dir)  # once: meta-training and the benchmark read it
        prior = _pretrain_step(config, out, jobs, cache_dir, reused, outcome)
        needs_model = bool(config.register.heads) or (
            {"maml_pretrained", "molprior"} & set(config.fewshot.methods) and not config.fewshot.model)
        meta = _model_step(config, out, prepared, jobs, cache_dir, prior, reused, outcome,
                           featurised[0]) if needs_model else None
        outcome.fewshot, benchmark_metrics = _benchmark_step(config, out, prepared, jobs, meta, reused, outcome,
                                                             featurised)
        if config.register.heads:
            _register_step(config, out, prepared, jobs, meta, prior, hashes, benchmark_metrics, outcome, featurised[0])
            if config.score:
                _score_step(config, out, prepared, jobs, outcome)
        runs.log_metrics(outcome.score_metrics)  # the headline check, also on the parent run
    return outcome


def _featurise(prepared, jobs: int, cache_dir) -> tuple[MoleculeBank, dict[str, str]]:
    """The run's one bank of the input's molecules (graphs and ECFP4), and why any is missing."""
    smiles = prepared.table["smiles"].unique().tolist()
    runs.log_metrics({"measurements_kept": len(prepared.table), "molecules_kept": len(smiles),
                      "lines_rejected": prepared.rejected["line"].nunique() if len(prepared.rejected) else 0})
    start = time.perf_counter()
    with FeatureCache(cache_dir) as cache, progress_bar("featurising", len(smiles)) as advance:
        graphs = featurize_smiles(smiles, n_jobs=jobs, cache=cache, progress=advance)
    fingerprints, _ = input_kind("smiles").fingerprints(graphs.graphs.smiles, 2048)
    bank = MoleculeBank(graphs.graphs, fingerprints)
    seconds = time.perf_counter() - start
    log.info("featurised %d molecules (%d from the cache) in %.1f s", len(graphs.graphs), graphs.from_cache, seconds)
    runs.log_metrics({"featurize.graphs": len(graphs.graphs), "featurize.from_cache": graphs.from_cache,
                      "featurize.seconds": seconds, "featurize.errors": len(graphs.errors)})
    return bank, {smiles[i]: reason for i, reason in graphs.errors.items()}


def _pretrain_step(config: PipelineConfig, out: Path, jobs: int, cache_dir, reused: dict, outcome) -> str:
    """Pretrain (or reuse a pretraining), sample molecules; returns the prior for meta-training."""
    from molprior.workflows.pretrain import run_pretraining

    model_dir = None
    if "pretrain" in reused:
        run_id = reused["pretrain"].info.run_id
        model_dir = resolve_model_dir(f"runs:/{run_id}/model", kind="generator")
        outcome.step_runs["pretrain"] = run_id
        log.info("pretrain: reusing run %s", run_id)
    elif config.pretrain is not None:
        outcome.pretraining = run_pretraining(config.pretrain, out / "pretrain", jobs=jobs, progress=False,
                                              cache_dir=cache_dir, nested=True)
        model_dir = outcome.pretraining.model_dir
        outcome.step_runs["pretrain"] = outcome.pretraining.run_id
    if config.generate:
        if config.prior == "pretrain" and model_dir is not None:
            source_dir, outcome.generated_from = model_dir, "this pipeline's pretraining"
        else:
            source_dir, outcome.generated_from = resolve_model_dir(None), "the shipped prior"
        model, vocabulary, _ = load_generator(source_dir)
        outcome.generated = sample_smiles(model, vocabulary, config.generate, seed=0)
        write_csv(pd.DataFrame({"smiles": outcome.generated}), out / "generated.csv")
        runs.log_metrics({f"generated.{k}": v for k, v in generation_metrics(outcome.generated).items()})
    if config.prior == "pretrain":
        if "pretrain" not in outcome.step_runs:
            raise InputError("prior: pretrain needs a pretrain step (pretrain: {...}) or reuse: {pretrain: RUN_ID}")
        return f"runs:/{outcome.step_runs['pretrain']}/encoder"
    return config.prior


def _model_step(config: PipelineConfig, out: Path, prepared, jobs: int, cache_dir, prior: str, reused: dict,
                outcome, bank: MoleculeBank | None = None) -> Path:
    """The few-shot model the pipeline benchmarks and registers (``config.fewshot_model``):
    the shipped one, one given, a reused meta-training run's, or one meta-trained here."""
    from molprior.workflows.fewshot import benchmark_metatrain_config
    from molprior.workflows.metatrain import run_metatraining

    if "metatrain" in reused:
        run_id = reused["metatrain"].info.run_id
        model = resolve_model_dir(f"runs:/{run_id}/model", kind="fewshot")
        log.info("metatrain: reusing run %s", run_id)
    elif config.fewshot.model:
        model, run_id = resolve_model_dir(config.fewshot.model, kind="fewshot"), ""
    elif config.fewshot_model != "metatrain":
        model = resolve_model_dir(None if config.fewshot_model == "shipped" else config.fewshot_model, kind="fewshot")
        log.info("few-shot model: %s (no meta-training in this pipeline)", model)
        outcome.metatrained_model = Path(model)
        return Path(model)
    else:
        metatrain_config = benchmark_metatrain_config(config.fewshot, config.fewshot.seed)
        if "prior" not in config.fewshot.metatrain:
            metatrain_config.prior = prior
        result = run_metatraining(metatrain_config, out / "metatrain", prepared=prepared, bank=bank, jobs=jobs,
                                  progress=False, cache_dir=cache_dir, nested=True)
        model, run_id = result.model_dir, result.run_id
    outcome.step_runs["metatrain"] = run_id
    outcome.metatrained_model = Path(model)
    return Path(model)


def _benchmark_step(config: PipelineConfig, out: Path, prepared, jobs: int, meta: Path | None, reused: dict,
                    outcome, featurised: tuple[MoleculeBank, dict[str, str]] | None = None
                    ) -> tuple[FewShotOutcome | None, dict[str, float]]:
    import mlflow

    if "benchmark" in reused:
        run = reused["benchmark"]
        outcome.step_runs["benchmark"] = run.info.run_id
        log.info("benchmark: reusing run %s", run.info.run_id)
        return None, dict(run.data.metrics)
    fewshot = config.fewshot
    if meta is not None:
        fewshot = type(fewshot)(**{**asdict(fewshot), "model": str(meta)})
    with runs.tracked_run("benchmark", params={"methods": fewshot.methods, "model": fewshot.model or ""},
                          nested=True) as run:
        result = run_benchmark(fewshot, out / "fewshot", prepared, jobs=jobs, featurised=featurised)
        result.outputs["run_id"] = run.info.run_id
    outcome.step_runs["benchmark"] = run.info.run_id
    return result, dict(mlflow.get_run(run.info.run_id).data.metrics)


def support_and_library(prepared, assay: str, support_size: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A stratified support of ``support_size`` molecules of ``assay`` (half actives at its
    median) and the rest of the assay as the library to score (with the measured labels)."""
    task = tasks_from_table(prepared.table, [assay])[0]
    episode = stratified_episode(task.labels, support_size // 2, support_size - support_size // 2,
                                 np.random.default_rng(seed))
    frame = pd.DataFrame({"smiles": task.inputs, "value": task.values, "label": task.labels})
    return frame.iloc[episode.support].reset_index(drop=True), frame.iloc[episode.query].reset_index(drop=True)


def _register_step(config: PipelineConfig, out: Path, prepared, jobs: int, meta: Path, prior: str, hashes: dict,
                   benchmark_metrics: dict[str, float], outcome, bank: MoleculeBank) -> None:
    from molprior.tracking.pyfunc import log_fewshot_pyfunc
    from molprior.serialization import load_learner
    from molprior.workflows.adapt import run_adapt

    spec = config.register
    adapted = {}
    for assay in spec.heads:
        support, library = support_and_library(prepared, assay, spec.support_size, config.fewshot.seed)
        write_csv(support[["smiles", "value"]].rename(columns={"value": assay}), out / "register" / assay / "support.csv")
        write_csv(library, out / "register" / assay / "library.csv")
        result = run_adapt(meta, out / "register" / assay / "support.csv", out / "register" / assay / "adapted",
                           jobs=jobs, seed=config.fewshot.seed, nested=True, featurised=bank)
        adapted[assay] = result.model_dir
    learner, description = load_learner(meta)
    info = description.get("metadata", {})
    headline = {k: v for k, v in benchmark_metrics.items()
                if k.split(".")[0] in ("molprior", "maml_pretrained", "rf_ecfp")}
    headline.update({k: v for k, v in (info.get("metrics") or {}).items() if k == "best_val_delta_auprc"})
    if spec.metric not in headline:
        raise InputError(f"register.metric {spec.metric!r} is not among the benchmark's metrics "
                         f"{sorted(benchmark_metrics)}")
    if "pretrain" in outcome.step_runs and prior.startswith("runs:/"):
        pretrain_run = outcome.step_runs["pretrain"]
    else:  # the run that trained the prior, as recorded in its metadata
        pretrain_run = _prior_run_id(prior)
    tags = lineage_tags(
        pipeline_run_id=outcome.run_id, pretrain_run_id=pretrain_run, prior=info.get("prior", prior),
        metatrain_run_id=outcome.step_runs.get("metatrain") or info.get("mlflow_run_id", ""),
        benchmark_run_id=outcome.step_runs.get("benchmark", ""), train_assays=info.get("train_assays", []),
        val_assays=info.get("val_assays", []), heads=list(adapted), task_type=learner.config.task_type,
        algorithm=learner.config.algorithm, metrics=headline, benchmark_metric=spec.metric,
        data_hashes={**hashes, **{f"support.{a}": file_hash(out / "register" / a / "support.csv") for a in adapted},
                     "metatrain_model": file_hash(meta / "model.safetensors")})
    with runs.tracked_run("register", params={"name": spec.name, "alias": spec.alias, "heads": list(adapted)},
                          nested=True) as run:
        info_model = log_fewshot_pyfunc(meta, adapted, tags=tags)
        version = registry.register(info_model.model_uri, spec.name, tags,
                                    description=f"molprior few-shot model (scores {', '.join(adapted)})")
        runs.log_metrics({k.replace(".", "_"): v for k, v in headline.items()})
    outcome.step_runs["register"] = run.info.run_id
    outcome.registered = version
    if spec.promote:
        try:
            outcome.promotion = registry.promote(spec.name, version.version, spec.alias,
                                                 reason=f"pipeline run {outcome.run_id}")
        except registry.RegistryError as refused:
            outcome.promotion_refused = str(refused)
            log.warning("%s", refused)


def _prior_run_id(prior: str) -> str:
    try:
        directory = resolve_model_dir(None if prior == "shipped" else prior, kind="encoder")
        if not (directory / "encoder.json").exists():  # the shipped prior's root holds encoder/
            directory = directory / "encoder"
        return str(json.loads((directory / "encoder.json").read_text()).get("metadata", {}).get("mlflow_run_id", ""))
    except (FileNotFoundError, ValueError):
        return ""


def _score_step(config: PipelineConfig, out: Path, prepared, jobs: int, outcome) -> None:
    """Score the first head's library through the registry URI and measure it against the labels."""
    from molprior.workflows.predict import run_predict

    spec = config.register
    assay = spec.heads[0]
    uri = f"models:/{spec.name}@{spec.alias}"
    library = out / "register" / assay / "library.csv"
    with runs.tracked_run("score", params={"model": uri, "input": str(library), "assay": assay}, nested=True) as run:
        result = run_predict(uri, library, out / "scores.csv", jobs=jobs, assay=assay)
        scored = pd.read_csv(result.output, keep_default_na=False)
        ok = scored[scored["error"] == ""]
        metrics = {"score.rows": result.rows, "score.errors": result.errors}
        labels = ok["label"].astype(float).to_numpy()
        if "probability_active" in ok and len(set(labels)) == 2:
            scores = ok["probability_active"].astype(float).to_numpy()
            metrics.update({"score.roc_auc": roc_auc(labels, scores), "score.delta_auprc": delta_auprc(labels, scores)})
        runs.log_metrics(metrics)
        runs.log_files([result.output])
    outcome.step_runs["score"] = run.info.run_id
    outcome.scores = result.output
    outcome.score_metrics = metrics

