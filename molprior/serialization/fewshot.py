"""Few-shot models (meta-trained, or adapted to one assay): ``model.safetensors`` (encoder,
head, learned inner learning rates, an adapted model's per-task tensors) + ``model.json``,
and ``seen_molecules.npy`` (the molecules it was trained or selected on), with
``seen_skeletons.npy`` (their skeleton hashes, which make counting them in a library cheap)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

from molprior.chem.features import FEATURIZER_VERSION
from molprior.data.leakage import SEEN_FILE, SEEN_SKELETONS_FILE, save_seen
from molprior.files import atomic_path, write_manifest, write_text
from molprior.meta.learner import Adapted, FewShotLearner, LearnerConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel
from molprior.serialization.formats import load_weights, load_weights_into, read_description

FEWSHOT_FORMAT = "molprior-fewshot/1"
#: Prefix of an adapted model's per-task tensors in its weights file (the GP head's support).
ADAPTED_STATE = "adapted_state."


def save_learner(learner: FewShotLearner, directory: str | Path, metadata: dict | None = None,
                 adapted: Adapted | None = None, seen: np.ndarray | None = None,
                 seen_skeletons: np.ndarray | None = None) -> Path:
    """Write a few-shot model: ``model.safetensors`` (encoder, head, learned inner learning
    rates) and ``model.json``.  With ``adapted``, the weights are those adapted to one assay
    and the JSON keeps the target scaling; such a model predicts directly.  ``seen`` (hashed
    keys from :func:`molprior.data.leakage.seen_keys`) records the molecules it was trained
    or selected on, as ``seen_molecules.npy``, and ``seen_skeletons`` (from
    :func:`molprior.data.leakage.seen_skeletons`, of the same molecules) their prefilter."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if seen is not None:
        save_seen(seen, directory, seen_skeletons)
    else:  # a model saved over another must not inherit (and sign) that one's record
        (directory / SEEN_FILE).unlink(missing_ok=True)
        (directory / SEEN_SKELETONS_FILE).unlink(missing_ok=True)
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


def load_learner(directory: str | Path) -> tuple[FewShotLearner, dict]:
    """The few-shot model in ``directory`` (eval mode) and its JSON description; an adapted
    model's per-task tensors (:attr:`~molprior.meta.learner.Adapted.state`) are under the
    description's ``adapted_state``."""
    directory = Path(directory)
    description = read_description(directory / "model.json", FEWSHOT_FORMAT, "model.safetensors")
    model = TaskModel(GraphEncoder(EncoderConfig(**description["encoder"])), HeadConfig(**description["head"]))
    learner = FewShotLearner(model, LearnerConfig(**description["learner"]))
    tensors = load_weights(directory / "model.safetensors")
    description["adapted_state"] = {k[len(ADAPTED_STATE):]: tensors.pop(k) for k in list(tensors)
                                    if k.startswith(ADAPTED_STATE)}
    load_weights_into(learner, directory / "model.safetensors", tensors)
    learner.eval()
    return learner, description
