"""SIGTERM as a normal way out of a ``molprior`` command.

SIGTERM's default action ends the process on the spot: no ``finally`` block runs, so an
output being written through :func:`molprior.files.atomic_path` would leave its temporary
``.NAME.xxxx.part`` file beside the target.  While a command runs, SIGTERM instead raises
:class:`Terminated` in the main thread: the stack unwinds, every ``finally`` block (and
``with`` exit) runs, and the command exits with status 143, as a shell reports a process
ended by SIGTERM.  Worker processes are stopped first, so that a process pool waiting on
its queued work does not hold the clean-up up; a second SIGTERM during the clean-up is ignored.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator, TypeVar

EXIT_TERMINATED = 128 + signal.SIGTERM  # 143

F = TypeVar("F", bound=Callable[..., int])


class Terminated(SystemExit):
    """The command received SIGTERM (a ``SystemExit``: ``except Exception`` does not stop it)."""

    def __init__(self) -> None:
        super().__init__(EXIT_TERMINATED)


def _stop_workers() -> None:
    """End this process's worker processes (process pools, data loaders): a pool shutting down
    would otherwise wait for all its queued work before the exit could go on."""
    for child in multiprocessing.active_children():
        child.terminate()


@contextmanager
def exit_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread (once); the
    handler that was there before is put back afterwards.  Outside the main thread (where
    Python cannot set handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    main_pid = os.getpid()

    def handler(signum, frame) -> None:
        if os.getpid() != main_pid:  # a forked worker inherited this handler: end as SIGTERM would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the clean-up short
        _stop_workers()
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def exits_on_sigterm(function: F) -> F:
    """Run ``function`` (a command's ``main``) under :func:`exit_on_sigterm`; on SIGTERM it
    says so on stderr and returns :data:`EXIT_TERMINATED` once the clean-up has run."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        with exit_on_sigterm():
            try:
                return function(*args, **kwargs)
            except Terminated:
                print("terminated", file=sys.stderr)
                return EXIT_TERMINATED

    return wrapper  # type: ignore[return-value]
