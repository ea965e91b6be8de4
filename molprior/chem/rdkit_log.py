"""RDKit's log, silenced only while molprior's own RDKit calls run.

RDKit reports every molecule it rejects on the process's stderr.  molprior gives each
rejection back as a reason instead (:mod:`molprior.chem.standardize`), so those lines are
noise in its own calls; but a program that imports molprior keeps RDKit's log as it set it.
:class:`quiet_rdkit` is a context manager and a decorator: on entry it records which RDKit
log levels are on and turns them all off; on exit it restores them.  Nested uses cost nothing
beyond a counter, and the state is kept per process (worker processes enter it themselves).
"""

from __future__ import annotations

import contextlib
import threading

from rdkit import rdBase

_lock = threading.RLock()
_depth = 0
_saved: list[tuple[str, bool]] = []


def log_levels() -> dict[str, bool]:
    """Which of RDKit's log levels (``rdApp.debug`` ... ``rdApp.error``) are on."""
    levels = {}
    for line in rdBase.LogStatus().splitlines():
        name, _, state = line.rpartition(":")
        levels[name] = state == "enabled"
    return levels


class quiet_rdkit(contextlib.ContextDecorator):
    """RDKit's log off inside the block (or the decorated function), as it was after it."""

    def __enter__(self) -> "quiet_rdkit":
        global _depth, _saved
        with _lock:
            if _depth == 0:
                _saved = list(log_levels().items())
                rdBase.DisableLog("rdApp.*")
            _depth += 1
        return self

    def __exit__(self, *exc_info) -> bool:
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, enabled in _saved:
                    (rdBase.EnableLog if enabled else rdBase.DisableLog)(name)
        return False
