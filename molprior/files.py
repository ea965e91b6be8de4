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
from typing import Iterator, Sequence

import pandas as pd

from molprior.errors import InputError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; it replaces ``path`` if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:  # from here on (a SIGTERM arriving now included: see molprior.cli.signals) the .part file goes
        os.close(handle)
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


class OutputPathError(InputError):
    """An output path that cannot be written, or that would replace an input."""


def check_output_path(output: str | Path, inputs: Sequence[str | Path] = (), *, directory: bool = False,
                      files: Sequence[str] = ()) -> Path:
    """Refuse, before any work starts, an output that would fail only once the work is done or
    that would replace an input; return ``Path(output)``.

    ``output`` is the file to write, or (``directory=True``) the directory ``files`` are
    written into.  Raises :class:`OutputPathError` when a file output is an existing directory,
    a directory output is an existing file, the nearest existing parent is a file or cannot be
    written to, or a file to write is one of ``inputs`` (compared after resolving symbolic
    links, and as the same file on disk for hard links).
    """
    output = Path(output)
    if directory and output.exists() and not output.is_dir():
        raise OutputPathError(f"--output {output} is an existing file; it must name a directory (the outputs "
                              f"{', '.join(files) or 'of the command'} are written into it)")
    if not directory and output.is_dir():
        raise OutputPathError(f"--output {output} is a directory; give the name of the file to write, "
                              f"e.g. {output / 'scores.csv'}")
    parent = output if directory else output.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if parent.exists() and not parent.is_dir():
        raise OutputPathError(f"cannot write {output}: {parent} is a file, not a directory")
    if parent.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"cannot write {output}: no permission to write into {parent}")
    targets = [output / name for name in files] if directory else [output]
    for source in inputs:
        source = Path(source)
        for target in targets:
            same = os.path.realpath(target) == os.path.realpath(source)
            if not same and target.exists() and source.exists():
                same = os.path.samefile(target, source)
            if same:
                raise OutputPathError(f"--output {output} would replace the input {source}; "
                                      "choose another output name")
    return output


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


class ChecksumError(InputError):
    """A model directory whose files do not match the checksums written with it."""


def write_manifest(directory: str | Path) -> Path:
    """Write ``checksums.json``: the SHA-256 of every other file under ``directory``."""
    directory = Path(directory)
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != MANIFEST)
    digests = {str(p.relative_to(directory)): file_hash(p) for p in files}
    return write_text(json.dumps({"sha256": digests}, indent=1, sort_keys=True) + "\n", directory / MANIFEST)


def verify_manifest(directory: str | Path, required: bool = True, covers: Sequence[str] = ()) -> bool:
    """Check every file listed in ``checksums.json`` against its SHA-256 before anything is
    loaded; raise :class:`ChecksumError` naming the files that are missing or differ, or the
    files of ``covers`` (those the loader will read) that exist but the manifest does not list.
    A directory without a manifest is an error: every model molprior writes has one, so a
    missing one means the files cannot be trusted.  Returns whether a manifest was there
    (only ``required=False``, for callers that merely inspect, returns ``False``)."""
    directory = Path(directory)
    manifest = directory / MANIFEST
    if not manifest.is_file():
        if required:
            raise ChecksumError(f"{directory} has no {MANIFEST}: the model's files cannot be verified "
                                "(every model molprior writes has one; re-export or re-download the model)")
        return False
    try:
        expected = json.loads(manifest.read_text(encoding="utf-8")).get("sha256")
    except (ValueError, AttributeError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ChecksumError(f"{manifest}: corrupt manifest ({error})") from error
    if not isinstance(expected, dict) or not all(isinstance(v, str) for v in expected.values()):
        raise ChecksumError(f"{manifest}: corrupt manifest (no 'sha256' table of file digests)")
    unlisted = [name for name in covers if name not in expected and (directory / name).exists()]
    if unlisted:
        raise ChecksumError(f"{directory}: {MANIFEST} does not list {unlisted}: the model's files cannot be verified")
    missing = [name for name in expected if not (directory / name).is_file()]
    changed = [name for name in expected if name not in missing and file_hash(directory / name) != expected[name]]
    if missing or changed:
        raise ChecksumError(f"{directory}: model files fail their checksums "
                            f"(changed: {changed or 'none'}; missing: {missing or 'none'}); "
                            "the download is incomplete or the files were altered")
    return True
