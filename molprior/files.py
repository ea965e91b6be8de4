"""File helpers shared by every layer: atomic writes and content hashes.

An output is written to a temporary file in the same directory and moved over the
target with ``os.replace`` only once complete, so a killed run never leaves a half file
over a good one.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pandas as pd


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_csv(frame: pd.DataFrame, path: str | Path, **options) -> Path:
    """Write ``frame`` as CSV atomically (no index unless asked)."""
    options.setdefault("index", False)
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, **options)
    return Path(path)


def write_text(text: str, path: str | Path) -> Path:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return Path(path)


def file_hash(path: str | Path, algorithm: str = "sha256") -> str:
    """Hex digest of a file (or of every file under a directory, in sorted order)."""
    path = Path(path)
    digest = hashlib.new(algorithm)
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def frame_hash(frame: pd.DataFrame) -> str:
    """SHA-256 of a table's contents (row order matters, the index does not)."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


MANIFEST = "checksums.json"


class ChecksumError(ValueError):
    """A model directory whose files do not match the checksums written with it."""


def write_manifest(directory: str | Path) -> Path:
    """Write ``checksums.json``: the SHA-256 of every other file under ``directory``."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST)
    digests = {str(p.relative_to(directory)): file_hash(p) for p in files}
    return write_text(json.dumps({"sha256": digests}, indent=1, sort_keys=True) + "\n", directory / MANIFEST)


def verify_manifest(directory: str | Path, required: bool = False) -> bool:
    """Check every file listed in ``checksums.json`` against its SHA-256 before anything is
    loaded; raise :class:`ChecksumError` naming the files that are missing or differ.
    Returns whether a manifest was there (absent and not ``required``: nothing to check)."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.exists():
        if required:
            raise ChecksumError(f"{directory} has no {MANIFEST}: cannot verify the model's files")
        return False
    expected = json.loads(manifest.read_text()).get("sha256", {})
    missing = [name for name in expected if not (directory / name).is_file()]
    changed = [name for name in expected if name not in missing and file_hash(directory / name) != expected[name]]
    if missing or changed:
        raise ChecksumError(f"{directory}: model files fail their checksums "
                            f"(changed: {changed or 'none'}; missing: {missing or 'none'}); "
                            "the download is incomplete or the files were altered")
    return True
