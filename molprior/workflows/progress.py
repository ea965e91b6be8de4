"""Progress reporting for long jobs: rich bars on a terminal, nothing when quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

_ENABLED = True


def set_enabled(enabled: bool) -> None:
    """Turn progress bars on or off for the whole process (``-q`` turns them off)."""
    global _ENABLED
    _ENABLED = enabled


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


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator["_Bar | _Silent"]:
    """Yield ``advance(n)`` (with ``advance.set_total(n)``); shows a rich bar while the block runs."""
    if not _ENABLED:
        yield _Silent()
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        yield _Bar(progress, progress.add_task(description, total=total))
