"""The one process pool: ``function(item)`` for every item, in worker processes, results in the
order of the items whatever the number of workers or the order the work finishes in.

Two ways to start the workers, one interface:

* ``"spawn"`` (the default): fresh interpreters from joblib's loky, kept for the next call;
  work is sent with cloudpickle (closures such as a benchmark's methods travel), and every
  worker runs torch on one thread (``jobs`` workers use ``jobs`` cores, and torch is not
  fork-safe);
* ``"fork"``: copies of this process (:class:`Workers`, where the platform has fork): no
  start-up cost, for work without torch such as RDKit featurisation.

:class:`Workers` is the pool a whole run keeps (``molprior predict`` scores every chunk of a
library in it): started once, fed a stream of items a few ahead, results in item order.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings
from typing import Callable, Iterable, Iterator, Sequence, TypeVar

T = TypeVar("T")
R = TypeVar("R")
S = TypeVar("S")

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
        with Workers(workers, function) as pool:  # the function travels by fork: closures too
            done: dict[int, R] = {}
            position = 0
            for i, result in zip(order, pool.map(_apply, (items[i] for i in order), ahead=len(items))):
                done[i] = result
                while position in done:
                    yield done.pop(position)
                    position += 1
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


def _apply(function: Callable[[T], R], item: T) -> R:
    return function(item)


class Workers:
    """Worker processes kept for a whole run (started once, not per call): :meth:`map` sends
    items as the workers free up, a bounded number ahead, and yields the results in item order.
    With ``jobs <= 1`` the work runs in this process.  ``state`` (a loaded model, a run's
    settings) is what every item's work reads: it reaches each worker once, when the worker
    starts, not with every item, and :meth:`map` passes it to the function.  Workers start by
    fork where the platform has it (the state is then shared, not copied or loaded again), else
    by the platform's default (the state is pickled to each worker once).

    torch runs on one thread in every worker, and in this process while the workers are up:
    each process is one core's worth of work, and torch threads beyond that only wait for each
    other.  This process sets it before the first fork, so no worker inherits a thread pool.
    Workers ignore SIGTERM: the process that owns them stops them when it exits (on SIGTERM
    too), after the items they are working on."""

    def __init__(self, jobs: int, state: object = None) -> None:
        self.jobs = max(1, jobs)
        self.state = state
        self._pool = None
        self._threads = None
        if self.jobs == 1:
            return
        from concurrent.futures import ProcessPoolExecutor
        from multiprocessing import get_all_start_methods, get_context

        if "torch" in sys.modules:
            import torch

            self._threads = torch.get_num_threads()
            torch.set_num_threads(1)
        context = get_context("fork") if "fork" in get_all_start_methods() else get_context()
        self._pool = ProcessPoolExecutor(max_workers=self.jobs, mp_context=context, initializer=_start_worker,
                                         initargs=(state,))

    def map(self, function: Callable[[S, T], R], items: Iterable[T], ahead: int | None = None) -> Iterator[R]:
        """``function(state, item)`` for each of ``items`` (which may be a stream), in their
        order, with at most ``ahead`` (default twice the workers) sent and not yet yielded."""
        if self._pool is None:
            for item in items:
                yield function(self.state, item)
            return
        from collections import deque

        ahead = ahead or 2 * self.jobs
        stream = iter(items)
        pending = deque(self._pool.submit(_with_state, function, item) for _, item in zip(range(ahead), stream))
        try:
            while pending:
                result = pending.popleft().result()
                for item in stream:  # the next item goes out before this result is used
                    pending.append(self._pool.submit(_with_state, function, item))
                    break
                yield result
        finally:
            for future in pending:
                future.cancel()

    def close(self) -> None:
        """Stop the workers (work not yet started is dropped) and give torch its threads back."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
        if self._threads is not None:
            import torch

            torch.set_num_threads(self._threads)
            self._threads = None

    def __enter__(self) -> "Workers":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


_STATE: object = None  # in a worker: the state its pool was started with


def _with_state(function: Callable[[S, T], R], item: T) -> R:
    return function(_STATE, item)


def _start_worker(state: object) -> None:
    # SIGTERM is for the process that owns the pool: it stops the workers by shutting the pool
    # down (work not started is dropped, each worker ends after its current item).  A worker
    # killed while it sends a result would leave the pool's reader waiting forever for the rest.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    global _STATE
    if "torch" in sys.modules:  # forked from a process with torch, or torch came with the state
        import torch

        torch.set_num_threads(1)
    _STATE = state
