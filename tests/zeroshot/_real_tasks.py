"""Real FS-Mol training tasks with their descriptions, and their latent codes under a small
hypernetwork-head learner, for the zero-shot tests (imported as ``zeroshot._real_tasks``:
``tests/`` is on pytest's pythonpath)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.data.fsmol import read_tasks, readable_smiles, task_description
from molprior.data.tasks import FewShotTask, set_aside_unfingerprintable
from molprior.meta.batches import FeatureBank
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.meta.maml import MAMLConfig
from molprior.models.heads import HeadConfig, TaskModel
from molprior.zeroshot.text_features import TextFeatures

FSMOL = Path(__file__).resolve().parents[2] / "data" / "fsmol"
#: The described training tasks taken (the first ones in FS-Mol's order with both classes).
N_TASKS = 60
#: Molecules kept per task (its first rows in FS-Mol's order).
ROWS_PER_TASK = 64
LATENT_DIM = 8
HYPER = {"latent_dim": LATENT_DIM, "generator_hidden": 32, "support_hidden": 16}
#: The inner loop's rate.  A learner that is not meta-trained has small gradients in its code
#: (the readout starts at the scale feature_dim ** -0.5): at a rate of 0.5 three steps move
#: the codes about 1e-3 from their shared start (of order one), too little for HyperCLIP, which
#: reads codes as they are; at 50 they spread about 0.14, as distinct tasks' codes should.
INNER_LR = 50.0


def task_rows() -> pd.DataFrame:
    """FS-Mol's task table with each task's description (``description``)."""
    tasks = read_tasks(FSMOL / "fsmol_tasks.csv")
    return tasks.assign(description=[task_description(row) for row in tasks.to_dict("records")])


@lru_cache(maxsize=1)
def _training_measurements() -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """FS-Mol's training measurements and each task's rows in them."""
    measurements = pd.read_csv(FSMOL / "fsmol.csv.gz", usecols=["split", "assay", "smiles", "label"])
    measurements = measurements[measurements["split"] == "train"].reset_index(drop=True)
    return measurements, measurements.groupby("assay", sort=False).indices


def training_task(assay: str, description: str, rows: int = ROWS_PER_TASK) -> FewShotTask:
    """FS-Mol training task ``assay``'s first ``rows`` molecules, as the pipeline reads them
    (:func:`~molprior.data.fsmol.readable_smiles`), those with an ECFP4 (computed once here)."""
    measurements, positions = _training_measurements()
    frame = measurements.iloc[positions[assay][:rows]]
    smiles, _ = readable_smiles(frame["smiles"])
    task = FewShotTask(assay, list(smiles), frame["label"].to_numpy(np.float64), description=description)
    set_aside_unfingerprintable([task])
    return task


def described_training_tasks(n: int = N_TASKS, rows: int = ROWS_PER_TASK) -> list[FewShotTask]:
    """The first ``n`` described FS-Mol training tasks (in FS-Mol's order) whose first ``rows``
    molecules hold both classes, as :class:`FewShotTask` records with their descriptions."""
    table = task_rows()
    table = table[(table["split"] == "train") & (table["description"] != "")]
    tasks = []
    for assay, description in zip(table["assay"], table["description"]):
        task = training_task(assay, description, rows)
        if 0 < task.labels.sum() < len(task):
            tasks.append(task)
        if len(tasks) == n:
            break
    return tasks


def feature_bank(tasks: list[FewShotTask]) -> FeatureBank:
    """ECFP4 bits (2048) of every distinct molecule of ``tasks``."""
    bits = {s: row for task in tasks for s, row in zip(task.inputs, task.fingerprints)}
    return FeatureBank(torch.tensor(np.stack(list(bits.values())), dtype=torch.float32), list(bits))


def hyper_learner(seed: int = 0, inner_lr: float = INNER_LR) -> FewShotLearner:
    """A (not meta-trained) hyper_maml learner over ECFP4 bits: its adapted codes differ from
    task to task, as each task's molecules pull them."""
    torch.manual_seed(seed)
    model = TaskModel(None, HeadConfig(hidden_dim=0, hyper=HYPER), input_dim=2048)
    return FewShotLearner(model, LearnerConfig(maml=MAMLConfig(inner_steps=3, inner_lr=inner_lr)))


def task_codes_of(tasks: list[FewShotTask]) -> tuple[FewShotLearner, FeatureBank, torch.Tensor]:
    """The learner, the tasks' feature bank and each task's code (:func:`molprior.zeroshot.heads.task_codes`)."""
    from molprior.zeroshot.heads import task_codes

    bank, learner = feature_bank(tasks), hyper_learner()
    return learner, bank, task_codes(learner, tasks, bank)


def held_out_descriptions() -> list[str]:
    """The descriptions of FS-Mol's test tasks (all are described)."""
    table = task_rows()
    return table.loc[table["split"] == "test", "description"].tolist()


def real_pairs() -> tuple[torch.Tensor, torch.Tensor, TextFeatures]:
    """The described training tasks' description features, their codes, and the vocabulary."""
    tasks = described_training_tasks()
    _, _, codes = task_codes_of(tasks)
    text = TextFeatures.fit([t.description for t in tasks])
    return text([t.description for t in tasks]), codes, text
