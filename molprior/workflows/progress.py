"""Progress reporting for long jobs: rich bars on a terminal, a log line every tenth of the
way when writing to a file or a pipe, nothing when quiet."""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from typing import Iterator

from molprior.errors import InputError

log = logging.getLogger(__name__)
MODES = ("bar", "log", "off")
LOG_EVERY = 0.1  # the fraction of the total between two log lines
_MODE = "bar"


def set_mode(mode: str) -> None:
    """How the whole process reports progress: ``bar`` (rich bars, for a terminal), ``log``
    (INFO lines, for a log file) or ``off`` (``-q``)."""
    global _MODE
    if mode not in MODES:
        raise InputError(f"unknown progress mode {mode!r}; choose one of {', '.join(MODES)}")
    _MODE = mode


class _Silent:
    def __call__(self, n: int) -> None:
        pass

    def set_total(self, total: int) -> None:
        pass


class _Bar:
    def __init__(self, progress, task) -> None:
        self._progress, self._task = progress, task

    def __call__(self, n: int) -> None:
        """Advance by ``n`` items."""
        self._progress.advance(self._task, n)

    def set_total(self, total: int) -> None:
        """Set the total once it is known (e.g. after reading the input)."""
        self._progress.update(self._task, total=total)


class _LogLines:
    """Logs ``description: done of total (percent), minutes`` each time another
    :data:`LOG_EVERY` of the total is done (without a total: nothing until one is set)."""

    def __init__(self, description: str, total: int | None) -> None:
        self._description, self._total = description, total
        self._done, self._logged = 0, 0
        self._started = time.monotonic()

    def __call__(self, n: int) -> None:
        self._done += n
        if not self._total:
            return
        reached = int(min(self._done / self._total, 1.0) / LOG_EVERY + 1e-9)
        if reached > self._logged:
            self._logged = reached
            log.info("%s: %d of %d (%.0f%%), %.1f min", self._description, self._done, self._total,
                     100 * self._done / self._total, (time.monotonic() - self._started) / 60)

    def set_total(self, total: int) -> None:
        self._total = total


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator["_Bar | _LogLines | _Silent"]:
    """Yield ``advance(n)`` (with ``advance.set_total(n)``): a rich bar while the block runs,
    log lines, or nothing, as :func:`set_mode` chose."""
    if _MODE == "off":
        yield _Silent()
        return
    if _MODE == "log":
        yield _LogLines(description, total)
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        yield _Bar(progress, progress.add_task(description, total=total))
