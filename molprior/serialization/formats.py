"""What every model directory shares: safetensors weights, JSON descriptions, a checksum
manifest checked before anything is read, and :class:`ModelFormatError` for a directory that
is not a model molprior can load (a one-line message naming the file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from molprior.chem.features import FEATURIZER_VERSION
from molprior.errors import InputError
from molprior.files import atomic_path, verify_manifest


class ModelFormatError(InputError):
    """A directory that does not hold a model molprior can load."""


def save_weights(module: torch.nn.Module, path: Path) -> None:
    """Write ``module``'s state (on the CPU) to the safetensors file ``path``, atomically."""
    tensors = {k: v.detach().cpu().contiguous() for k, v in module.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def read_json_object(path: str | Path) -> dict[str, Any]:
    """The JSON object in ``path`` (a model description, an index); a file that is not one is a
    :class:`ModelFormatError` naming the file and what is wrong with it."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ModelFormatError(f"{path}: corrupt JSON ({error})") from error
    except UnicodeDecodeError as error:
        raise ModelFormatError(f"{path}: not a JSON text file ({error.reason} at byte {error.start})") from error
    except (FileNotFoundError, IsADirectoryError) as error:
        raise ModelFormatError(f"{path}: missing ({error.strerror})") from error
    if not isinstance(value, dict):
        raise ModelFormatError(f"{path}: expected a JSON object, found a JSON {type(value).__name__}")
    return value


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of the safetensors file ``path``; a missing, truncated or foreign file (a
    pickle, a text file) is a :class:`ModelFormatError` naming it."""
    path = Path(path)
    try:
        return load_file(str(path))
    except SafetensorError as error:
        raise ModelFormatError(f"{path}: not a readable safetensors weights file ({error}); "
                               "the file is damaged or is not molprior's") from error
    except OSError as error:
        raise ModelFormatError(f"{path}: cannot read the weights ({error.strerror or error})") from error


def load_weights_into(module: torch.nn.Module, path: str | Path,
                      tensors: dict[str, torch.Tensor] | None = None) -> None:
    """Load the weights in ``path`` (or ``tensors`` read from it) into ``module``; weights that do
    not fit the module its description declares are a one-line :class:`ModelFormatError`."""
    try:
        module.load_state_dict(load_weights(path) if tensors is None else tensors)
    except RuntimeError as error:
        detail = " ".join(str(error).split())
        raise ModelFormatError(f"{path}: the weights do not fit the model its description declares "
                               f"({detail[:300]}{'...' if len(detail) > 300 else ''})") from error


def read_description(path: Path, expected_format: str, weights: str) -> dict[str, Any]:
    """The JSON description ``path`` of a model whose weights are ``weights`` (beside it), once
    the directory's checksums are verified and its format and featuriser version are the
    expected ones."""
    if not path.exists():
        raise ModelFormatError(f"{path.parent} holds no {path.name}: not a molprior model directory")
    verify_manifest(path.parent, covers=(path.name, weights))  # before anything is read from the directory
    description = read_json_object(path)
    if description.get("format") != expected_format:
        raise ModelFormatError(f"{path}: format {description.get('format')!r}, expected {expected_format!r}")
    if description.get("featurizer_version") != FEATURIZER_VERSION:
        raise ModelFormatError(
            f"{path}: trained on features {description.get('featurizer_version')!r}, but this molprior "
            f"featurises with {FEATURIZER_VERSION!r}; re-train or use a matching molprior version")
    return description
