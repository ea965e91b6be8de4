"""Reading a job's assay input: the one step every few-shot workflow starts with."""

from __future__ import annotations

import logging

from molprior.config import InputConfig
from molprior.data.prepare import PreparedTable, prepare_table
from molprior.workflows.progress import progress_bar

log = logging.getLogger(__name__)


def prepare(config: InputConfig, jobs: int) -> PreparedTable:
    """Read and standardise ``config``'s input, with a progress bar."""
    with progress_bar("standardising", None) as advance:
        prepared = prepare_table(config.input, config.spec, n_jobs=jobs, progress=advance, on_read=advance.set_total)
    log.info("%d measurements of %d molecules in %d assays; %d input lines rejected",
             len(prepared.table), prepared.table["smiles"].nunique(), prepared.table["assay"].nunique(),
             prepared.rejected["line"].nunique() if len(prepared.rejected) else 0)
    return prepared
