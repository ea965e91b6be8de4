"""MoleculeNet datasets through deepchem's own loaders, into the assay schema.

``load_moleculenet("tox21")`` fetches the file into the cache (checksum verified, or from
``$MOLPRIOR_DATA_MIRROR``) and hands that directory to ``dc.molnet.load_*`` as its
``data_dir``, so deepchem reads the local file and downloads nothing.  Missing labels
(deepchem weight 0) are left out, as blanks in a wide file are.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np

from molprior.data import catalog, labels
from molprior.data.readers import ReadResult
from molprior.data.schema import assay_table, problems_table


def _deepchem():
    """Import deepchem quietly (it is slow and prints warnings about optional backends)."""
    import contextlib
    import io

    logging.getLogger("deepchem").setLevel(logging.ERROR)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        import deepchem
    return deepchem


def load_from_dir(name: str, data_dir: str | Path) -> ReadResult:
    """Read MoleculeNet dataset ``name`` from ``data_dir`` with its deepchem loader."""
    dataset = catalog.get(name)
    if not dataset.loader:
        raise catalog.DatasetError(f"{name} is not a MoleculeNet dataset")
    dc = _deepchem()
    loader = getattr(dc.molnet, dataset.loader)
    with tempfile.TemporaryDirectory() as save_dir:
        tasks, (data,), _ = loader(featurizer=dc.feat.DummyFeaturizer(), splitter=None, transformers=[],
                                   reload=False, data_dir=str(data_dir), save_dir=save_dir)
        ids, y, w = np.asarray(data.ids, dtype=object), np.asarray(data.y, dtype=np.float64), np.asarray(data.w)
    y = y.reshape(len(ids), -1)
    w = w.reshape(len(ids), -1)
    rows, cols = np.nonzero(w != 0)
    table = assay_table(rows + 2, ids[rows], np.asarray(tasks, dtype=object)[cols], y[rows, cols],
                        source=f"MoleculeNet:{name}")
    return ReadResult(labels.assign_labels(table), problems_table([]), assays=tuple(str(t) for t in tasks))


def load_moleculenet(name: str, cache: str | Path | None = None) -> ReadResult:
    """Fetch (or find in the cache or mirror) and read MoleculeNet dataset ``name``."""
    path = catalog.fetch(name, cache)
    return load_from_dir(name, path.parent)
