"""``molprior demo``: the main job on the embedded data, tracked as one MLflow run."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import default_workers, featurize_smiles
import pandas as pd

from molprior.config import DemoConfig, PretrainConfig
from molprior.evaluation.generation import generation_metrics
from molprior.files import write_csv
from molprior.tracking.artifacts import resolve_model_dir
from molprior.models.generative import sample_smiles
from molprior.training.export import load_generator
from molprior.workflows.pretrain import PretrainOutcome, run_pretraining
from molprior.tracking import runs
from molprior.workflows.fewshot import FewShotOutcome, prepare, run_benchmark
from molprior.workflows.progress import progress_bar

log = logging.getLogger(__name__)


@dataclass
class DemoOutcome:
    fewshot: FewShotOutcome
    pretraining: PretrainOutcome | None
    generated: list[str]
    generated_from: str
    run_id: str


def run_demo(config: DemoConfig, cache_dir: str | Path | None = None) -> DemoOutcome:
    """Short pretraining on the demo corpus, molecules generated from the shipped prior (or
    the short run when none ships), then the few-shot protocol on the standardised and
    featurised MoleculeACE data with every configured method (the meta-trained ones are
    meta-trained briefly on the other assays); one MLflow run with the pretraining and the
    meta-trainings nested in it."""
    jobs = default_workers() if config.jobs == -1 else config.jobs
    params = {f"fewshot.{k}": v for k, v in asdict(config.fewshot).items() if v is not None}
    with runs.tracked_run("demo", params={**params, "jobs": jobs}) as run:
        runs.log_input_file(config.fewshot.input, "input")
        prepared = prepare(config.fewshot, jobs)
        runs.log_metrics({"measurements_kept": len(prepared.table),
                          "molecules_kept": prepared.table["smiles"].nunique(),
                          "lines_rejected": prepared.rejected["line"].nunique() if len(prepared.rejected) else 0})
        smiles = prepared.table["smiles"].unique().tolist()
        start = time.perf_counter()
        with FeatureCache(cache_dir) as cache, progress_bar("featurising", len(smiles)) as advance:
            graphs = featurize_smiles(smiles, n_jobs=jobs, cache=cache, progress=advance)
        seconds = time.perf_counter() - start
        log.info("featurised %d molecules (%d from the cache) in %.1f s", len(graphs.graphs), graphs.from_cache, seconds)
        runs.log_metrics({"featurize.graphs": len(graphs.graphs), "featurize.from_cache": graphs.from_cache,
                          "featurize.seconds": seconds, "featurize.errors": len(graphs.errors)})
        pretraining = None
        if config.pretrain:
            pretrain_config = PretrainConfig(**{k: v for k, v in config.pretrain.items() if k != "epochs"})
            if "epochs" in config.pretrain:
                pretrain_config.trainer = {**pretrain_config.trainer, "max_epochs": config.pretrain["epochs"]}
            pretraining = run_pretraining(pretrain_config, Path(config.output) / "pretrain", jobs=jobs,
                                          progress=False, cache_dir=cache_dir, nested=True)
        generated, source = [], ""
        if config.generate:
            try:
                model_dir, source = resolve_model_dir(None), "the shipped prior"
            except FileNotFoundError:
                if pretraining is None:
                    raise
                model_dir, source = pretraining.model_dir, "the demo pretraining"
            model, vocabulary, _ = load_generator(model_dir)
            generated = sample_smiles(model, vocabulary, config.generate, seed=0)
            write_csv(pd.DataFrame({"smiles": generated}), Path(config.output) / "generated.csv")
            runs.log_metrics({f"generated.{k}": v for k, v in generation_metrics(generated).items()})
        outcome = run_benchmark(config.fewshot, Path(config.output) / "fewshot", prepared, jobs=jobs)
        outcome.outputs["run_id"] = run.info.run_id
    return DemoOutcome(outcome, pretraining, generated, source, run.info.run_id)
