"""Zero-shot heads: a hypernetwork head's latent code from an assay's description alone.

Trained beside a hyper_maml model on its training tasks (those FS-Mol describes): each task's
code is the model adapted to all its molecules (:func:`task_codes`); the description models
learn to find codes from descriptions.  Four ways to a code (:data:`ZERO_SHOT_METHODS`):

* ``hyperclip``: gradient ascent on HyperCLIP's text-code similarity under a prior centred on
  the training codes it finds likely for the description (:mod:`molprior.zeroshot.hyperclip`);
* ``hyperldm``: the mean of classifier-free-guided samples of the conditional diffusion model
  (:mod:`molprior.zeroshot.hyperldm`);
* ``nearest_task`` (baseline): the code of the training task whose description is most
  similar (TF-IDF cosine; ties go to the first in FS-Mol's order);
* ``hyper_start`` (baseline): the meta-learned start, the same for every description.

Saved as ``zeroshot/`` inside the model directory: ``text_features.json`` (the vocabulary),
``zeroshot.safetensors`` (both models, the training codes, the start) and ``zeroshot.json``
(configurations, the training tasks and their descriptions).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from molprior.data.tasks import FewShotTask
from molprior.errors import InputError
from molprior.files import atomic_path, write_text
from molprior.meta.batches import FeatureBank
from molprior.meta.learner import FewShotLearner
from molprior.typed_configs import nested_configs
from molprior.zeroshot.hyperclip import HyperCLIP, HyperCLIPConfig, train_hyperclip, zero_shot_latent
from molprior.zeroshot.hyperldm import HyperLDMConfig, LatentDiffusion, train_hyperldm
from molprior.zeroshot.text_features import TextFeatures

log = logging.getLogger(__name__)

ZERO_SHOT_METHODS = ("hyperclip", "hyperldm", "nearest_task", "hyper_start")
DIRECTORY = "zeroshot"
FORMAT = "molprior-zeroshot/1"


@dataclass
class ZeroShotConfig:
    """The description models trained beside a hyper_maml model, and the method that
    ``molprior adapt --description`` uses."""

    hyperclip: HyperCLIPConfig = field(default_factory=HyperCLIPConfig)
    hyperldm: HyperLDMConfig = field(default_factory=HyperLDMConfig)
    method: str = "hyperldm"

    def __post_init__(self) -> None:
        nested_configs(self)
        if self.method not in ZERO_SHOT_METHODS:
            raise InputError(f"unknown zero-shot method {self.method!r}; choose one of {ZERO_SHOT_METHODS}")


def task_codes(learner: FewShotLearner, tasks: Sequence[FewShotTask], bank: FeatureBank) -> torch.Tensor:
    """Each task's latent code: ``learner`` (a hypernetwork head over ``bank``'s features)
    adapted to all the task's molecules (each task needs both classes)."""
    learner.eval()
    codes = []
    for task in tasks:
        rows = torch.from_numpy(bank.indices(task.inputs))
        adapted = learner.adapt(bank.features[rows], torch.as_tensor(task.labels, dtype=torch.float32))
        codes.append(adapted.params["head.latent"])
    return torch.stack(codes)


def described(tasks: Sequence[FewShotTask]) -> list[FewShotTask]:
    """The tasks with a description and both classes (what the description models learn from)."""
    return [t for t in tasks if t.description and 0 < np.nansum(t.labels) < len(t.labels)]


def require_descriptions(tasks: Sequence[FewShotTask]) -> list[FewShotTask]:
    """The :func:`described` tasks; an :class:`InputError` when fewer than two are."""
    found = described(tasks)
    if len(found) < 2:
        raise InputError(f"zero-shot heads learn from the training tasks' descriptions: {len(found)} of {len(tasks)} "
                         "tasks carry one (FS-Mol's data does: its tasks' target metadata)")
    return found


class ZeroShotHeads:
    """The description models of one hyper_maml model, and the training tasks' codes."""

    def __init__(self, config: ZeroShotConfig, text: TextFeatures, clip: HyperCLIP, ldm: LatentDiffusion,
                 assays: list[str], descriptions: list[str], codes: torch.Tensor, start: torch.Tensor):
        self.config, self.text, self.clip, self.ldm = config, text, clip, ldm
        self.assays, self.descriptions, self.codes, self.start = assays, descriptions, codes, start
        self._training_text = text(descriptions)

    @classmethod
    def train(cls, learner: FewShotLearner, tasks: Sequence[FewShotTask], bank: FeatureBank,
              config: ZeroShotConfig = ZeroShotConfig(), seed: int = 0) -> "ZeroShotHeads":
        """Codes of the described ``tasks`` (:func:`described`), a vocabulary of their
        descriptions, and both description models trained on them (seeded)."""
        tasks = require_descriptions(tasks)
        codes = task_codes(learner, tasks, bank)
        descriptions = [t.description for t in tasks]
        text = TextFeatures.fit(descriptions)
        features = text(descriptions)
        torch.manual_seed(seed)
        clip = HyperCLIP(text.width, codes.size(1), config.hyperclip)
        clip_history = train_hyperclip(clip, features, codes, seed)
        ldm = LatentDiffusion(codes.size(1), text.width, config.hyperldm)
        ldm_history = train_hyperldm(ldm, features, codes, seed)
        log.info("zero-shot heads from %d described training tasks (%d tokens): HyperCLIP loss %.3f -> %.3f, "
                 "HyperLDM loss %.3f -> %.3f", len(tasks), text.width, clip_history[0], clip_history[-1],
                 ldm_history[0], ldm_history[-1])
        start = learner.model.head.latent.detach().clone()
        return cls(config, text, clip, ldm, [t.assay for t in tasks], descriptions, codes, start)

    def latent(self, description: str, method: str | None = None, guidance: float | None = None,
               seed: int = 0) -> torch.Tensor:
        """The code for ``description`` by ``method`` (default the configured one); a
        description the vocabulary cannot read is an :class:`InputError`."""
        method = method or self.config.method
        if method not in ZERO_SHOT_METHODS:
            raise InputError(f"unknown zero-shot method {method!r}; choose one of {ZERO_SHOT_METHODS}")
        features = self.text([description])
        if method == "hyper_start":
            return self.start.clone()
        if method == "nearest_task":
            return self.codes[self.nearest_task(description)].clone()
        if method == "hyperclip":
            return zero_shot_latent(self.clip, features[0], self.codes)
        config = self.ldm.config
        samples = self.ldm.sample(features[0], config.samples, config.guidance if guidance is None else guidance, seed)
        return samples.mean(0)

    def nearest_task(self, description: str) -> int:
        """The position of the training task whose description is most similar (the first of ties)."""
        similarity = self._training_text @ self.text([description])[0]
        return int(torch.argmax(similarity))

    def save(self, model_dir: str | Path) -> Path:
        directory = Path(model_dir) / DIRECTORY
        directory.mkdir(parents=True, exist_ok=True)
        self.text.save(directory / "text_features.json")
        tensors = {**{f"clip.{k}": v for k, v in self.clip.state_dict().items()},
                   **{f"ldm.{k}": v for k, v in self.ldm.state_dict().items()}, "codes": self.codes, "start": self.start}
        with atomic_path(directory / "zeroshot.safetensors") as tmp:
            save_file({k: v.detach().contiguous() for k, v in tensors.items()}, str(tmp))
        document = {"format": FORMAT, "config": asdict(self.config), "assays": self.assays,
                    "descriptions": self.descriptions}
        write_text(json.dumps(document, indent=1) + "\n", directory / "zeroshot.json")
        return directory

    @classmethod
    def load(cls, model_dir: str | Path) -> "ZeroShotHeads":
        directory = Path(model_dir) / DIRECTORY
        if not (directory / "zeroshot.json").is_file():
            raise InputError(f"{model_dir} has no zero-shot heads: a description needs a hyper_maml model trained "
                             "with zeroshot settings (the fsmol_hyper preset)")
        document = json.loads((directory / "zeroshot.json").read_text())
        if document.get("format") != FORMAT:
            raise InputError(f"{directory}: not molprior zero-shot heads ({FORMAT})")
        config = ZeroShotConfig(**document["config"])
        text = TextFeatures.load(directory / "text_features.json")
        tensors = load_file(str(directory / "zeroshot.safetensors"))
        codes, start = tensors["codes"], tensors["start"]
        clip = HyperCLIP(text.width, codes.size(1), config.hyperclip)
        clip.load_state_dict({k[len("clip."):]: v for k, v in tensors.items() if k.startswith("clip.")})
        ldm = LatentDiffusion(codes.size(1), text.width, config.hyperldm)
        ldm.load_state_dict({k[len("ldm."):]: v for k, v in tensors.items() if k.startswith("ldm.")})
        clip.eval(), ldm.eval()
        return cls(config, text, clip, ldm, document["assays"], document["descriptions"], codes, start)
