"""The one process pool: ``function(item)`` for every item, in worker processes, results in the
order of the items whatever the number of workers or the order the work finishes in.

Two ways to start the workers, one interface:

* ``"spawn"`` (the default): fresh interpreters from joblib's loky, kept for the next call;
  work is sent with cloudpickle (closures such as a benchmark's methods travel), and every
  worker runs torch on one thread (``jobs`` workers use ``jobs`` cores, and torch is not
  fork-safe);
* ``"fork"``: copies of this process (the standard library's pool, where the platform has
  fork): no start-up cost, for work without torch such as RDKit featurisation.
"""

from __future__ import annotations

import os
import warnings
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")

START_METHODS = ("spawn", "fork")
# loky replaces a worker whose memory grew (a model's caches) and says so: nothing is lost
warnings.filterwarnings("ignore", message="A worker stopped", module="joblib.externals.loky")


def available_cores() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS
        return os.cpu_count() or 1


def _one_torch_thread() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)


def map_in_processes(function: Callable[[T], R], items: Iterable[T], jobs: int = 1, start: str = "spawn",
                     cost: Callable[[T], float] | None = None) -> Iterator[R]:
    """``function(item)`` for each of ``items``, yielded in their order.  With ``jobs <= 1`` or
    a single item the work runs here; else in ``min(jobs, len(items))`` worker processes
    started by ``start`` (:data:`START_METHODS`).  ``cost`` (a size, say) sends the costliest
    items first, so the last to finish are short; it changes nothing in the results.  When an
    item fails, or the caller stops early, the work not yet done is dropped (and the spawned
    workers still busy with it are stopped) before the error goes on."""
    if start not in START_METHODS:
        raise ValueError(f"unknown start method {start!r}; choose one of {START_METHODS}")
    items = list(items)
    if jobs <= 1 or len(items) <= 1:
        return map(function, items)
    return _in_workers(function, items, min(jobs, len(items)), start, cost)


def _in_workers(function: Callable[[T], R], items: Sequence[T], workers: int, start: str,
                cost: Callable[[T], float] | None) -> Iterator[R]:
    order = sorted(range(len(items)), key=lambda i: -cost(items[i])) if cost else range(len(items))
    if start == "fork":
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_all_start_methods, get_context

        context = get_context("fork") if "fork" in get_all_start_methods() else get_context()
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=context)
        futures = {i: pool.submit(function, items[i]) for i in order}
        try:
            for i in range(len(items)):
                yield futures[i].result()
        finally:  # done, failed or stopped early: nothing queued is left to run
            pool.shutdown(wait=True, cancel_futures=True)
        return
    from joblib.externals.loky import get_reusable_executor

    pool = get_reusable_executor(max_workers=workers, initializer=_one_torch_thread)
    futures = {i: pool.submit(function, items[i]) for i in order}
    finished = False
    try:
        for i in range(len(items)):
            yield futures[i].result()
        finished = True
    finally:
        if not finished:  # failed or stopped early: drop the queue, stop the workers still busy with it
            for future in futures.values():
                future.cancel()
            pool.shutdown(wait=False, kill_workers=True)
