"""``molprior demo``: the main job on the embedded data, tracked as one MLflow run."""

from __future__ import annotations

import logging
import time
from dataclasses import asdict
from pathlib import Path

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import default_workers, featurize_smiles
from molprior.config import DemoConfig
from molprior.tracking import runs
from molprior.workflows.fewshot import FewShotOutcome, prepare, run_benchmark
from molprior.workflows.progress import progress_bar

log = logging.getLogger(__name__)


def run_demo(config: DemoConfig, cache_dir: str | Path | None = None) -> FewShotOutcome:
    """Standardise and featurise the demo data, then run the few-shot baselines."""
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
        outcome = run_benchmark(config.fewshot, Path(config.output) / "fewshot", prepared)
        outcome.outputs["run_id"] = run.info.run_id
    return outcome
