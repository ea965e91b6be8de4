"""On-disk cache of molecular graphs keyed by canonical SMILES and featuriser version.

One SQLite file per featuriser version (``features-<version>.sqlite``), so a change of
features never reads stale graphs.  SQLite gives atomic, concurrent-safe writes for free:
a killed run leaves the cache as it was before its last transaction.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Sequence

import numpy as np

from molprior.chem.features import ATOM_FEATURES, BOND_FEATURES, FEATURIZER_VERSION
from molprior.chem.graphs import MolGraphs

_BATCH = 900  # stays under SQLite's bound-parameter limit


def default_cache_dir() -> Path:
    """``$MOLPRIOR_CACHE_DIR/features`` or ``~/.cache/molprior/features``."""
    root = os.environ.get("MOLPRIOR_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "molprior") / "features"


class FeatureCache:
    """Graphs stored by canonical SMILES."""

    def __init__(self, directory: str | Path | None = None, version: str = FEATURIZER_VERSION):
        self.directory = Path(directory) if directory is not None else default_cache_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.version = version
        self.path = self.directory / f"features-{version}.sqlite"
        self._connection = sqlite3.connect(self.path, timeout=60)
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute(
            "CREATE TABLE IF NOT EXISTS graphs (smiles TEXT PRIMARY KEY, n_atoms INTEGER, n_edges INTEGER,"
            " x BLOB, edge_index BLOB, edge_attr BLOB)"
        )
        self._connection.commit()

    def __len__(self) -> int:
        return self._connection.execute("SELECT COUNT(*) FROM graphs").fetchone()[0]

    def get_many(self, smiles: Sequence[str]) -> MolGraphs:
        """The cached graphs among ``smiles`` (in no particular order; see ``.smiles``)."""
        keys, graphs = [], []
        n_atom_features, n_bond_features = len(ATOM_FEATURES), len(BOND_FEATURES)
        for start in range(0, len(smiles), _BATCH):
            batch = list(smiles[start : start + _BATCH])
            marks = ",".join("?" * len(batch))
            rows = self._connection.execute(
                f"SELECT smiles, n_atoms, n_edges, x, edge_index, edge_attr FROM graphs WHERE smiles IN ({marks})", batch
            )
            for key, n_atoms, n_edges, x, edge_index, edge_attr in rows:
                keys.append(key)
                graphs.append((
                    np.frombuffer(x, dtype=np.uint8).reshape(n_atoms, n_atom_features),
                    np.frombuffer(edge_index, dtype=np.int32).reshape(2, n_edges).astype(np.int64),
                    np.frombuffer(edge_attr, dtype=np.uint8).reshape(n_edges, n_bond_features),
                ))
        return MolGraphs.from_arrays(keys, graphs)

    def put_many(self, graphs: MolGraphs) -> None:
        """Store every graph of ``graphs`` (existing keys are left as they are)."""
        rows = []
        for i, key in enumerate(graphs.smiles):
            x, edge_index, edge_attr = graphs.arrays(i)
            rows.append((key, x.shape[0], edge_index.shape[1], x.tobytes(),
                         edge_index.astype(np.int32).tobytes(), edge_attr.tobytes()))
        with self._connection:
            self._connection.executemany("INSERT OR IGNORE INTO graphs VALUES (?, ?, ?, ?, ?, ?)", rows)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> "FeatureCache":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
