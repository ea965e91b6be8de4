"""The few-shot assay protocols, for any set of methods.

For every test assay and support size ``k``, ``n_draws`` supports are drawn and the query is
the rest of the assay; every method sees the same episodes.  Two protocols
(:data:`PROTOCOLS`, see :mod:`molprior.data.episodes`):

* ``fsmol``: FS-Mol's own, exactly: supports that keep the assay's class ratio, drawn as
  FS-Mol's ``StratifiedShuffleSplit(train_size=k, random_state=draw)`` draws them (draw
  ``d`` is seed ``d``, the same whatever the benchmark's seed); a draw FS-Mol cannot make is
  skipped, as FS-Mol skips it;
* ``balanced``: ``k/2`` actives and ``k/2`` inactives, seeded per (seed, assay, ``k``);
  assays without more than ``k/2`` of each class are left out of that size.

Reported per (method, k, metric): the mean over assays of each assay's mean over draws, the
standard deviation of those per-assay means, the number of assays and of draws
(``n_tasks`` says how many took part).  ΔAUPRC is average precision minus the query's
positive fraction, as FS-Mol computes it.
"""

from __future__ import annotations

import logging
from typing import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from molprior.data.episodes import PROTOCOLS, Episode, draw_episodes
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError
from molprior.parallel import map_in_processes
from molprior.evaluation.calibration import calibration_row
from molprior.metrics.classification import METRICS, average_precision
from molprior.meta.baselines import random_forest_scores, tanimoto_knn_scores

log = logging.getLogger(__name__)
RESULT_COLUMNS = ("method", "support_size", "metric", "mean", "std", "n_tasks", "n_draws")
#: ``per_task.csv``: FS-Mol's summary columns (its ``*_summary.csv`` files), one row per draw.
PER_TASK_COLUMNS = ("method", "seed", "task", "size", "draw", "num_test", "fraction_positive_train",
                    "fraction_positive_test", "roc_auc", "avg_precision", "delta_auprc")


#: A method scores the query of an episode: ``(task, episode, seed) -> scores``, or
#: ``(scores, spread)`` for a method with a predictive spread (see :mod:`molprior.evaluation.calibration`).
Method = Callable[[FewShotTask, Episode, int], "np.ndarray | tuple[np.ndarray, np.ndarray]"]


def rf_ecfp(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
    x = task.fingerprints
    return random_forest_scores(x[episode.support], task.labels[episode.support], x[episode.query], seed=seed)


def knn_tanimoto(task: FewShotTask, episode: Episode, seed: int) -> np.ndarray:
    x = task.fingerprints
    return tanimoto_knn_scores(x[episode.support], task.labels[episode.support], x[episode.query])


BASELINES: dict[str, Method] = {"rf_ecfp": rf_ecfp, "knn_tanimoto": knn_tanimoto}


def _task_rows(task: FewShotTask, support_sizes: Sequence[int], methods: Mapping[str, Method], n_draws: int,
               seed: int, protocol: str, method_draws: Mapping[str, int],
               progress: Callable[[int], None] | None = None) -> list[dict]:
    rows = []
    for k in support_sizes:
        episodes = draw_episodes(task, k, n_draws, seed, protocol)
        if progress:  # the draws that cannot be made, and those a method skips
            progress(sum(n_draws - min(method_draws.get(m, n_draws), len(episodes)) for m in methods))
        for draw, episode in episodes:
            truth = task.labels[episode.query]
            for name, method in methods.items():
                if draw >= method_draws.get(name, n_draws):
                    continue
                scores = method(task, episode, seed + draw)
                scores, spread = scores if isinstance(scores, tuple) else (scores, None)
                row = {"method": name, "assay": task.assay, "support_size": k, "draw": draw,
                       "n_query": len(episode.query),
                       "fraction_positive_train": (float(task.labels[episode.support].mean()) if len(episode.support)
                                                   else float("nan")),
                       "active_fraction": float(truth.mean()), "avg_precision": average_precision(truth, scores)}
                row.update({metric: fn(truth, scores) for metric, fn in METRICS.items()})
                if spread is not None:
                    row.update(calibration_row(truth, scores, spread))
                rows.append(row)
                if progress:
                    progress(1)
    return rows


def _chunk_rows(tasks: Sequence[FewShotTask], *args) -> list[list[dict]]:
    return [_task_rows(task, *args) for task in tasks]


#: Assay chunks per worker process (a finer progress bar and balance, few copies of the methods).
CHUNKS_PER_JOB = 4


def run_fewshot(
    tasks: Sequence[FewShotTask],
    support_sizes: Sequence[int],
    methods: Mapping[str, Method],
    n_draws: int = 10,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    protocol: str = "balanced",
    jobs: int = 1,
    method_draws: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Per-draw results: method, assay, support_size, draw, n_query, fraction_positive_train,
    active_fraction (the query's), avg_precision and the :data:`METRICS`.

    A method named in ``method_draws`` is scored on that many draws only (the first ones: the
    same supports as the other methods').  With ``jobs > 1`` the assays are scored in that many
    worker processes, a few chunks of assays each (the methods must pickle; each chunk gets
    one copy); every call is seeded by its draw, so the rows are the same, in the same order,
    whatever ``jobs``."""
    if protocol not in PROTOCOLS:
        raise InputError(f"unknown protocol {protocol!r}; choose one of {', '.join(PROTOCOLS)}")
    args = (support_sizes, methods, n_draws, seed, protocol, dict(method_draws or {}))
    if jobs > 1 and len(tasks) > 1:
        n_chunks = min(len(tasks), jobs * CHUNKS_PER_JOB)
        chunks = [list(range(i, len(tasks), n_chunks)) for i in range(n_chunks)]  # interleaved: sizes mix
        by_task: dict[int, list[dict]] = {}
        per_chunk = map_in_processes(lambda chunk_tasks: _chunk_rows(chunk_tasks, *args),
                                     [[tasks[i] for i in chunk] for chunk in chunks], jobs)
        for chunk, chunk_rows in zip(chunks, per_chunk):
            by_task.update(zip(chunk, chunk_rows))
            if progress:
                progress(len(chunk) * len(support_sizes) * n_draws * len(methods))
        return pd.DataFrame([row for i in range(len(tasks)) for row in by_task[i]])
    return pd.DataFrame([row for task in tasks for row in _task_rows(task, *args, progress)])


def fsmol_summary(per_draw: pd.DataFrame) -> pd.DataFrame:
    """The per-draw results under FS-Mol's summary column names (:data:`PER_TASK_COLUMNS`)."""
    if per_draw.empty:
        return pd.DataFrame(columns=list(PER_TASK_COLUMNS))
    frame = per_draw.rename(columns={"assay": "task", "support_size": "size", "n_query": "num_test",
                                     "active_fraction": "fraction_positive_test"})
    if "seed" not in frame:
        frame["seed"] = 0
    return frame[list(PER_TASK_COLUMNS)]


def by_protein_class(per_draw: pd.DataFrame, classes: Mapping[str, str], metric: str = "delta_auprc") -> pd.DataFrame:
    """``metric`` per method, support size and protein class (``classes``: assay -> class):
    the mean over the class's assays of each assay's mean over draws."""
    if per_draw.empty:
        return pd.DataFrame(columns=["method", "support_size", "protein_class", "n_tasks", metric])
    tasks = (per_draw.groupby(["method", "support_size", "assay"], sort=False)[metric].mean().reset_index()
             .assign(protein_class=lambda f: f["assay"].map(classes).fillna("unknown")))
    return (tasks.groupby(["method", "support_size", "protein_class"], sort=False)
            .agg(n_tasks=("assay", "nunique"), **{metric: (metric, "mean")}).reset_index()
            .sort_values(["method", "support_size", "n_tasks"], ascending=[True, True, False], kind="stable"))


def per_task_means(per_draw: pd.DataFrame) -> pd.DataFrame:
    """Each assay's mean over draws, per method, support size and metric."""
    long = per_draw.melt(id_vars=["method", "assay", "support_size", "draw"], value_vars=list(METRICS),
                         var_name="metric", value_name="value")
    return (long.groupby(["method", "support_size", "metric", "assay"], sort=False)["value"]
            .agg(mean="mean", n_draws="size").reset_index())


def summarize(per_draw: pd.DataFrame) -> pd.DataFrame:
    """The results table: ``method,support_size,metric,mean,std,n_tasks,n_draws``."""
    if per_draw.empty:
        return pd.DataFrame(columns=list(RESULT_COLUMNS))
    tasks = per_task_means(per_draw)
    summary = (tasks.groupby(["method", "support_size", "metric"], sort=False)
               .agg(mean=("mean", "mean"), std=("mean", lambda v: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0),
                    n_tasks=("assay", "nunique"), n_draws=("n_draws", "sum"))
               .reset_index())
    return summary[list(RESULT_COLUMNS)]


def format_results(summary: pd.DataFrame) -> str:
    """A plain-text table: one row per method, one column per metric and support size."""
    if summary.empty:
        return "(no results)"
    cell = summary.assign(text=[f"{m:.3f} ± {s:.3f}" for m, s in zip(summary["mean"], summary["std"])])
    wide = cell.pivot(index="method", columns=["metric", "support_size"], values="text")
    wide = wide.reindex(columns=sorted(wide.columns, key=lambda c: (c[0], c[1])))
    methods = list(dict.fromkeys(summary["method"]))
    wide = wide.reindex(methods)
    wide.columns = [f"{metric}@{k}" for metric, k in wide.columns]
    drawn = summary[summary["support_size"] > 0]  # zero-shot (size 0) has one episode, the whole task
    per_assay = drawn["n_draws"] / drawn["n_tasks"].clip(lower=1)
    draws = per_assay.groupby(drawn["method"], sort=False).max()
    notes = [f"{method}: {n:g} draw{'s' if n != 1 else ''} per assay and size (the others {draws.max():g})"
             for method, n in draws.items() if n < draws.max()]
    if (summary["support_size"] == 0).any():
        notes.append("@0: zero-shot, from the task's description alone; the query is the whole task")
    return "\n".join([wide.to_string(), *notes])
