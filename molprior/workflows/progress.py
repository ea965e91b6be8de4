"""Progress reporting for long jobs: rich bars on a terminal, nothing when quiet."""

from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

_ENABLED = True


def set_enabled(enabled: bool) -> None:
    """Turn progress bars on or off for the whole process (``-q`` turns them off)."""
    global _ENABLED
    _ENABLED = enabled


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; shows a rich progress bar while the block runs."""
    if not _ENABLED:
        yield lambda n: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TimeRemainingColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(description, total=total)
        yield lambda n: progress.advance(task, n)
