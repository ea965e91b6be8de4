"""Save and load trained models as safetensors weights plus a JSON description.

Nothing is ever unpickled: weights are safetensors, everything else is JSON.  Every model
directory carries ``checksums.json`` (SHA-256 of each file), checked before loading: a directory
without one is refused, and a weights file that is not safetensors or a description that is not
a JSON object is a one-line :class:`ModelFormatError` naming the file.  Layout of an
exported generator directory::

    generator.safetensors   the whole VAE (encoder, latent heads, decoder)
    generator.json          format, configs, SELFIES vocabulary, featuriser version, metadata
    encoder/
        encoder.safetensors the graph encoder alone: the prior for later stages
        encoder.json

and of a few-shot model (meta-trained, or adapted to one assay)::

    model.safetensors       encoder, head and learned inner learning rates
    model.json              format, configs, learner, featuriser version, target scaling, metadata
    seen_molecules.npy      hashed keys of the molecules it was meta-trained or selected on
                            (:mod:`molprior.data.leakage`; absent in older models)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from molprior.chem.features import FEATURIZER_VERSION
from molprior.chem.tokenizer import SelfiesVocabulary
from molprior.errors import InputError
from molprior.files import atomic_path, verify_manifest, write_manifest, write_text
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.generative import DecoderConfig, MoleculeVAE

if TYPE_CHECKING:
    from molprior.meta.learner import Adapted, FewShotLearner

GENERATOR_FORMAT = "molprior-generator/1"
ENCODER_FORMAT = "molprior-encoder/1"


class ModelFormatError(InputError):
    """A directory that does not hold a model molprior can load."""


def _save_weights(module: torch.nn.Module, path: Path) -> None:
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


def _read_description(path: Path, expected_format: str, weights: str) -> dict[str, Any]:
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


def save_encoder(encoder: GraphEncoder, directory: str | Path, metadata: dict | None = None) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _save_weights(encoder, directory / "encoder.safetensors")
    description = {"format": ENCODER_FORMAT, "encoder": encoder.config.to_dict(),
                   "featurizer_version": FEATURIZER_VERSION, "metadata": metadata or {}}
    write_text(json.dumps(description, indent=2) + "\n", directory / "encoder.json")
    write_manifest(directory)
    return directory


def load_encoder(directory: str | Path) -> tuple[GraphEncoder, dict]:
    """The graph encoder saved in ``directory`` (an encoder or a generator directory)."""
    directory = Path(directory)
    if not (directory / "encoder.json").exists() and (directory / "encoder" / "encoder.json").exists():
        directory = directory / "encoder"
    description = _read_description(directory / "encoder.json", ENCODER_FORMAT, "encoder.safetensors")
    encoder = GraphEncoder(EncoderConfig(**description["encoder"]))
    load_weights_into(encoder, directory / "encoder.safetensors")
    encoder.eval()
    return encoder, description.get("metadata", {})


def save_generator(model: MoleculeVAE, vocabulary: SelfiesVocabulary, directory: str | Path,
                   metadata: dict | None = None) -> Path:
    """Write the whole generator, and its encoder alone under ``encoder/``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    _save_weights(model, directory / "generator.safetensors")
    description = {"format": GENERATOR_FORMAT, "encoder": model.encoder.config.to_dict(),
                   "decoder": model.decoder.config.to_dict(), "vocabulary": vocabulary.to_dict(),
                   "featurizer_version": FEATURIZER_VERSION, "metadata": metadata or {}}
    write_text(json.dumps(description, indent=2) + "\n", directory / "generator.json")
    save_encoder(model.encoder, directory / "encoder", metadata)
    write_manifest(directory)
    return directory


def load_generator(directory: str | Path) -> tuple[MoleculeVAE, SelfiesVocabulary, dict]:
    """The generator saved in ``directory``, in eval mode."""
    directory = Path(directory)
    description = _read_description(directory / "generator.json", GENERATOR_FORMAT, "generator.safetensors")
    vocabulary = SelfiesVocabulary.from_dict(description["vocabulary"])
    model = MoleculeVAE(len(vocabulary), EncoderConfig(**description["encoder"]), DecoderConfig(**description["decoder"]))
    load_weights_into(model, directory / "generator.safetensors")
    model.eval()
    return model, vocabulary, description.get("metadata", {})


FEWSHOT_FORMAT = "molprior-fewshot/1"
#: Prefix of an adapted model's per-task tensors in its weights file (the GP head's support).
ADAPTED_STATE = "adapted_state."


def save_learner(learner: "FewShotLearner", directory: str | Path, metadata: dict | None = None,
                 adapted: "Adapted | None" = None, seen: "np.ndarray | None" = None) -> Path:
    """Write a few-shot model: ``model.safetensors`` (encoder, head, learned inner learning
    rates) and ``model.json``.  With ``adapted``, the weights are those adapted to one assay
    and the JSON keeps the target scaling; such a model predicts directly.  ``seen`` (hashed
    keys from :func:`molprior.data.leakage.seen_keys`) records the molecules it was trained
    or selected on, as ``seen_molecules.npy``."""
    from molprior.data.leakage import save_seen

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if seen is not None:
        save_seen(seen, directory)
    state = {k: v.detach().cpu().contiguous() for k, v in learner.state_dict().items()}
    if adapted is not None:
        state.update({f"maml.model.{k}": v.detach().cpu().contiguous() for k, v in adapted.params.items()})
        state.update({f"{ADAPTED_STATE}{k}": v.detach().cpu().contiguous() for k, v in adapted.state.items()})
    with atomic_path(directory / "model.safetensors") as tmp:
        save_file(state, str(tmp))
    model = learner.model
    description = {"format": FEWSHOT_FORMAT, "encoder": model.encoder.config.to_dict(),
                   "head": model.head_config.to_dict(), "learner": learner.config.to_dict(),
                   "featurizer_version": FEATURIZER_VERSION, "adapted": adapted is not None,
                   "target_mean": adapted.target_mean if adapted else 0.0,
                   "target_std": adapted.target_std if adapted else 1.0, "metadata": metadata or {}}
    write_text(json.dumps(description, indent=2) + "\n", directory / "model.json")
    write_manifest(directory)
    return directory


def load_learner(directory: str | Path) -> tuple["FewShotLearner", dict]:
    """The few-shot model in ``directory`` (eval mode) and its JSON description; an adapted
    model's per-task tensors (:attr:`~molprior.meta.learner.Adapted.state`) are under the
    description's ``adapted_state``."""
    from molprior.meta.learner import FewShotLearner, LearnerConfig
    from molprior.models.heads import HeadConfig, TaskModel

    directory = Path(directory)
    description = _read_description(directory / "model.json", FEWSHOT_FORMAT, "model.safetensors")
    model = TaskModel(GraphEncoder(EncoderConfig(**description["encoder"])), HeadConfig(**description["head"]))
    learner = FewShotLearner(model, LearnerConfig(**description["learner"]))
    tensors = load_weights(directory / "model.safetensors")
    description["adapted_state"] = {k[len(ADAPTED_STATE):]: tensors.pop(k) for k in list(tensors)
                                    if k.startswith(ADAPTED_STATE)}
    load_weights_into(learner, directory / "model.safetensors", tensors)
    learner.eval()
    return learner, description
