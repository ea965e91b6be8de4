"""Where a training in an output directory starts: a fresh run, or ``--resume`` from its newest
checkpoint in the MLflow run it recorded there."""

from __future__ import annotations

import logging
from pathlib import Path

from molprior.tracking import runs
from molprior.training.trainer import clear_checkpoints, last_checkpoint

log = logging.getLogger(__name__)


def resume_point(output_dir: Path, resume: bool) -> tuple[Path | None, str | None]:
    """``(checkpoint, run_id)`` to continue from, or ``(None, None)`` for a fresh run (whose old
    checkpoints are then removed).  Nothing is cleared or continued while the run recorded in
    ``output_dir`` is alive in another process (:class:`~molprior.tracking.runs.RunInUseError`)."""
    output_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = last_checkpoint(output_dir) if resume else None
    if resume and checkpoint is None:
        log.warning("no usable checkpoint in %s: starting from scratch", output_dir)
    previous_run = runs.resumable_run(output_dir, checkpoint)
    if checkpoint is None:
        clear_checkpoints(output_dir)
    return checkpoint, previous_run
