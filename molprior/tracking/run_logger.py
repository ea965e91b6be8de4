"""Lightning's ``MLFlowLogger`` for a run that a molprior command started and ends itself."""

from __future__ import annotations

from pytorch_lightning.loggers import MLFlowLogger


class CommandRunLogger(MLFlowLogger):
    """Logs into an existing run (``run_id``) and leaves it RUNNING when ``fit`` ends.

    Lightning's logger marks its run FINISHED (or FAILED) as soon as ``fit`` returns, while the
    command still has its model and outputs to log; a process killed then would leave a
    FINISHED run without them.  The command's :func:`~molprior.tracking.runs.tracked_run` ends
    the run instead, once everything is logged."""

    def finalize(self, status: str = "success") -> None:
        pass
