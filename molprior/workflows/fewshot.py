"""The few-shot benchmark job: prepare the table, run the protocol, write and track results."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from molprior.config import FewShotConfig
from molprior.data.prepare import PreparedTable, prepare_table
from molprior.evaluation.fewshot import BASELINES, format_results, per_task_means, run_fewshot, summarize, tasks_from_table
from molprior.evaluation.plots import plot_metric_vs_support
from molprior.files import write_csv
from molprior.tracking import runs
from molprior.workflows.progress import progress_bar

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


def run_benchmark(config: FewShotConfig, output_dir: str | Path, prepared: PreparedTable | None = None,
                  jobs: int = 1) -> FewShotOutcome:
    """Run the few-shot protocol of ``config`` and write ``results.csv``, ``per_task.csv``,
    ``per_draw.csv`` and ``delta_auprc.png`` into ``output_dir``; log them to the active
    MLflow run when there is one."""
    unknown = [m for m in config.methods if m not in BASELINES]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; available: {sorted(BASELINES)}")
    if not config.test_assays:
        raise ValueError("no test assays given (--test-assays)")
    prepared = prepared or prepare(config, jobs)
    tasks = tasks_from_table(prepared.table, config.test_assays)
    methods = {name: BASELINES[name] for name in config.methods}
    total = len(tasks) * len(config.support_sizes) * config.draws * len(methods)
    with progress_bar("few-shot protocol", total) as advance:
        per_draw = run_fewshot(tasks, config.support_sizes, methods, config.draws, config.seed, progress=advance)
    summary = summarize(per_draw)
    per_task = per_task_means(per_draw) if len(per_draw) else pd.DataFrame()
    out = Path(output_dir)
    outputs = {
        "results": write_csv(summary, out / "results.csv"),
        "per_task": write_csv(per_task, out / "per_task.csv"),
        "per_draw": write_csv(per_draw, out / "per_draw.csv"),
        "rejected": write_csv(prepared.rejected, out / "rejected.csv"),
    }
    if len(summary):
        outputs["plot"] = plot_metric_vs_support(summary, out / "delta_auprc.png")
    if runs.active():
        runs.log_table_hash(prepared.table, "input_table")
        runs.log_metrics({f"{r.method}.{r.metric}.k{r.support_size}": r.mean for r in summary.itertuples()})
        runs.log_files(outputs, artifact_path="fewshot")
    return FewShotOutcome(summary, per_task, per_draw, format_results(summary), outputs)
