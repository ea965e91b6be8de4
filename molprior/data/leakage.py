"""Molecules shared between a model's training data and the assays it is scored on.

Two molecules are the same here when their InChIKeys share the first block (the skeleton:
formula, connectivity and hydrogens; stereochemistry, isotopes and charge state ignored).  That
errs towards calling molecules shared, which is the safe side for a leak guard: a stereoisomer
of a training molecule is not a fresh test.

* :func:`guard_tasks` applies the leak guard to meta-training tasks: a task sharing more than
  ``max_shared_fraction`` of its molecules with the guarded set is left out, and the shared
  molecules are dropped from every other task; the returned table says what was left out.
* :func:`seen_keys` / :func:`seen_mask` let a model carry (as sorted 64-bit hashes) which
  molecules it was meta-trained or selected on, so ``adapt``, ``predict`` and the benchmark
  can report, or leave out, the user's molecules it has seen.  Beside the keys a model may
  carry the skeleton hashes of the same molecules (:mod:`molprior.chem.skeleton_hash`): a
  molecule whose skeleton hash is not among them cannot share a key with them, so only the
  few that could are given an InChI (about 1 ms each), which keeps scoring a library cheap.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from rdkit import Chem, rdBase

from molprior.chem.graphs import MolGraphs
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.chem.skeleton_hash import hashable, skeleton_hashes
from molprior.errors import InputError
from molprior.files import atomic_path

#: File of a model directory holding the hashed keys of the molecules it was trained on.
SEEN_FILE = "seen_molecules.npy"
#: File of a model directory holding the skeleton hashes of those molecules (the prefilter).
SEEN_SKELETONS_FILE = "seen_skeletons.npy"

#: Columns of the leak guard's report (one row per meta-training task it touched).
GUARD_COLUMNS = ("assay", "molecules", "shared", "shared_fraction", "action")


@quiet_rdkit()
def molecule_key(smiles: str) -> str | None:
    """The InChIKey skeleton (first block) of ``smiles``; ``None`` when RDKit cannot read it."""
    with rdBase.BlockLogs():
        mol = Chem.MolFromSmiles(smiles)
        if mol is None:
            return None
        key = Chem.MolToInchiKey(mol)
    return key.split("-")[0] if key else None


def _keys_of(smiles: Sequence[str]) -> list[str | None]:
    return [molecule_key(s) for s in smiles]


#: Keys computed in this process, by SMILES (a benchmark meta-trains several methods on the
#: same molecules; each would otherwise recompute them).
_KNOWN_KEYS: dict[str, str | None] = {}


def molecule_keys(smiles: Iterable[str], jobs: int = 1, chunk: int = 4096) -> dict[str, str]:
    """The key of every distinct SMILES of ``smiles`` that RDKit reads (``jobs`` worker
    processes; the result does not depend on ``jobs`` or ``chunk``)."""
    distinct = sorted(set(smiles))
    missing = [s for s in distinct if s not in _KNOWN_KEYS]
    chunks = [missing[i:i + chunk] for i in range(0, len(missing), chunk)]
    if jobs > 1 and len(chunks) > 1:
        parts = Parallel(n_jobs=jobs)(delayed(_keys_of)(c) for c in chunks)
    else:
        parts = [_keys_of(c) for c in chunks]
    _KNOWN_KEYS.update(zip(missing, (k for part in parts for k in part)))
    return {s: k for s in distinct if (k := _KNOWN_KEYS[s]) is not None}


def key_hash(key: str) -> int:
    """A 64-bit hash of a molecule key (what a model stores of its training molecules)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little", signed=True)


def seen_keys(keys: Iterable[str]) -> np.ndarray:
    """Sorted distinct hashes of ``keys``: the array a model stores as :data:`SEEN_FILE`."""
    return np.unique(np.fromiter((key_hash(k) for k in keys), dtype=np.int64))


def seen_skeletons(graphs: MolGraphs) -> np.ndarray:
    """Sorted distinct skeleton hashes of the molecules of ``graphs`` (the prefilter a model
    stores as :data:`SEEN_SKELETONS_FILE` beside the keys of the same molecules)."""
    return np.unique(skeleton_hashes(graphs))


def _save_array(values: np.ndarray, path: Path) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.save(handle, np.asarray(values, dtype=np.int64), allow_pickle=False)


def save_seen(seen: np.ndarray, directory: str | Path, skeletons: np.ndarray | None = None) -> Path:
    """Write ``seen`` (from :func:`seen_keys`) into a model directory, and ``skeletons`` (from
    :func:`seen_skeletons`, of the same molecules) when given; an older prefilter is removed."""
    path = Path(directory) / SEEN_FILE
    _save_array(seen, path)
    if skeletons is not None:
        _save_array(skeletons, Path(directory) / SEEN_SKELETONS_FILE)
    else:
        (Path(directory) / SEEN_SKELETONS_FILE).unlink(missing_ok=True)
    return path


def load_seen(directory: str | Path) -> np.ndarray | None:
    """The hashes a model directory stores, ``None`` for a model that does not record them."""
    path = Path(directory) / SEEN_FILE
    if not path.is_file():
        return None
    return np.load(path, allow_pickle=False)


def load_seen_skeletons(directory: str | Path) -> np.ndarray | None:
    """The skeleton hashes a model directory stores beside its keys, ``None`` when it has none."""
    path = Path(directory) / SEEN_SKELETONS_FILE
    return np.load(path, allow_pickle=False) if path.is_file() else None


def _in_sorted(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_values)`` for an ascending ``sorted_values``, by binary search
    (``np.isin`` sorts its second argument on every call)."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    position = np.clip(np.searchsorted(sorted_values, values), 0, len(sorted_values) - 1)
    return sorted_values[position] == values


def seen_mask(smiles: Sequence[str], seen: np.ndarray, jobs: int = 1, skeletons: np.ndarray | None = None,
              graphs: MolGraphs | None = None) -> np.ndarray:
    """Whether each of ``smiles`` is among the molecules ``seen`` (unreadable ones: no).  With
    the model's ``skeletons`` and the ``graphs`` of ``smiles`` (in the same order), a molecule
    whose skeleton hash is not among them is known to be new without computing its key."""
    smiles = list(smiles)
    if skeletons is not None and graphs is not None:
        if list(graphs.smiles) != smiles:
            raise ValueError("the graphs must be those of the SMILES, in their order")
        candidate = ~hashable(graphs) | _in_sorted(skeleton_hashes(graphs), skeletons)
        found = np.zeros(len(smiles), dtype=bool)
        if candidate.any():
            found[candidate] = seen_mask([s for s, c in zip(smiles, candidate) if c], seen, jobs)
        return found
    keys = molecule_keys(smiles, jobs)
    hashes = {s: key_hash(k) for s, k in keys.items()}
    wanted = np.array([hashes.get(s, 0) for s in smiles], dtype=np.int64)
    return _in_sorted(wanted, np.asarray(seen, dtype=np.int64)) & np.array([s in hashes for s in smiles], dtype=bool)


def guard_counts(report: pd.DataFrame) -> tuple[int, int]:
    """(tasks left out, molecules dropped from the tasks kept) of a leak guard's report."""
    left_out = report["action"] == "left out"
    return int(left_out.sum()), int(report.loc[~left_out, "shared"].sum())


@dataclass
class GuardedTasks:
    """What the leak guard kept, and its report (:data:`GUARD_COLUMNS`)."""

    kept: list
    report: pd.DataFrame

    @property
    def tasks_left_out(self) -> int:
        return guard_counts(self.report)[0]

    @property
    def molecules_dropped(self) -> int:
        return guard_counts(self.report)[1]


def guard_tasks(tasks: Sequence, guarded_keys: set[str], keys: dict[str, str],
                max_shared_fraction: float) -> GuardedTasks:
    """Leave out the tasks (anything with ``assay`` and ``smiles``, and ``keep(rows)``) whose
    fraction of molecules among ``guarded_keys`` exceeds ``max_shared_fraction``, and drop the
    shared molecules from the others; ``keys`` maps the tasks' SMILES to their keys."""
    if not 0.0 <= max_shared_fraction <= 1.0:
        raise InputError(f"max_shared_fraction must be within [0, 1], got {max_shared_fraction}")
    kept, rows = [], []
    for task in tasks:
        shared = [keys.get(s) in guarded_keys for s in task.inputs]
        n_shared = int(sum(shared))
        fraction = n_shared / len(task.inputs) if task.inputs else 0.0
        if n_shared == 0:
            kept.append(task)
            continue
        if fraction > max_shared_fraction:
            action = "left out"
        else:
            action = "shared molecules dropped"
            task.keep([i for i, s in enumerate(shared) if not s])
            kept.append(task)
        rows.append({"assay": task.assay, "molecules": len(shared), "shared": n_shared,
                     "shared_fraction": round(fraction, 4), "action": action})
    return GuardedTasks(kept, pd.DataFrame(rows, columns=list(GUARD_COLUMNS)))
