"""Meta-training the adkf learner on 20 real FS-Mol training tasks: it learns, exports and adapts."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.config import ADKF_HEAD, ADKF_LEARNER, MetaTrainConfig
from molprior.data.prepare import prepare_table
from molprior.meta import gp
from molprior.serialization import load_learner, save_learner
from molprior.training.metatrain_data import TrainingEpisodes
from molprior.workflows.metatrain import build_bank, run_metatraining, split_tasks

FSMOL = Path(__file__).resolve().parents[2] / "data" / "fsmol" / "fsmol.csv.gz"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """20 FS-Mol training tasks of 48 to 80 molecules, two of its valid tasks and one test task
    (first 80 rows)."""
    table = pd.read_csv(FSMOL, keep_default_na=False)
    sizes = table.groupby("assay", sort=False).size()
    train = [a for a in dict.fromkeys(table.loc[table["split"] == "train", "assay"]) if 48 <= sizes[a] <= 80][:20]
    valid = list(dict.fromkeys(table.loc[table["split"] == "valid", "assay"]))[:2]
    test = list(dict.fromkeys(table.loc[table["split"] == "test", "assay"]))[:1]
    subset = table[table["assay"].isin(train + valid + test)].groupby("assay", sort=False).head(80)
    path = tmp_path_factory.mktemp("fsmol") / "fsmol_subset.csv"
    subset.to_csv(path, index=False)
    return prepare_table(path)


def _config(**extra) -> MetaTrainConfig:
    return MetaTrainConfig(**{
        "input": "fsmol_subset.csv", "prior": "random", "val_assays": ["split:valid"], "test_assays": [],
        "encoder": {"hidden_dim": 32, "num_layers": 2}, "head": {**ADKF_HEAD, "hidden_dim": 64},
        "learner": {**ADKF_LEARNER, "gp": {"fit_steps": 10}}, "optim": {"meta_lr": 3e-3, "encoder_lr_scale": 1.0},
        "support_sizes": [16], "query_size": 32, "tasks_per_step": 4, "steps_per_epoch": 10, "val_draws": 2,
        "trainer": {"max_epochs": 3, "patience": 10}, **extra})


def _query_nll(learner, episodes) -> float:
    losses = []
    for e in episodes:
        adapted = learner.adapt(e.support, e.support_targets)
        mean, variance = learner.predict_with_variance(adapted, e.query)
        y = gp.signed(e.query_targets)
        losses.append(float((0.5 * (y - mean) ** 2 / variance + 0.5 * variance.log()).mean()))
    return float(np.mean(losses))


def test_adkf_meta_training_on_fsmol_tasks_lowers_the_query_loss(prepared, tmp_path):
    config = _config()
    train, val = split_tasks(prepared, config)
    assert len(train) == 20 and [t.assay for t in val] == list(prepared.assay_groups["split:valid"])
    # FS-Mol's test tasks are never meta-trained on, even when no test assay is named
    assert not {t.assay for t in train} & set(prepared.assay_groups["split:test"])
    bank = build_bank(train + val)
    fixed = [TrainingEpisodes(train, bank, [16], 32, "classification", 8, seed=99)[i] for i in range(8)]

    outcome = run_metatraining(config, tmp_path / "run", prepared=prepared, bank=bank, progress=False)
    assert outcome.metrics["steps_trained"] == 30

    from molprior.training.metatrain_module import MetaTrainModule

    torch.manual_seed(config.seed)
    start = MetaTrainModule(asdict(config.encoder), asdict(config.head), config.learner.to_dict()).learner.eval()
    last = MetaTrainModule.load_from_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt",
                                                weights_only=False).learner.eval()
    assert _query_nll(last, fixed) < _query_nll(start, fixed)
    encoder_moved = [not torch.equal(a, b) for a, b in zip(start.model.encoder.parameters(),
                                                           last.model.encoder.parameters())]
    assert all(encoder_moved)  # the encoder itself learns from the tasks

    # an adapted GP head is saved with its support and predicts the same after loading
    learner, description = load_learner(outcome.model_dir)
    assert description["learner"]["algorithm"] == "adkf" and description["adapted_state"] == {}
    episode = fixed[0]
    adapted = learner.adapt(episode.support, episode.support_targets)
    expected = learner.predict(adapted, episode.query)
    save_learner(learner, tmp_path / "adapted", adapted=adapted)
    reloaded, reloaded_description = load_learner(tmp_path / "adapted")
    from molprior.meta.learner import Adapted

    again = Adapted({n: p for n, p in reloaded.model.named_parameters()}, state=reloaded_description["adapted_state"])
    torch.testing.assert_close(reloaded.predict(again, episode.query), expected, rtol=0, atol=0)


def test_the_leak_guard_keeps_another_benchmarks_molecules_out_of_meta_training(prepared, tmp_path):
    """Guarded against a file holding half of one training task's molecules (written in another
    spelling: RDKit's non-canonical random SMILES) and one molecule of another: the first task
    is left out, the one molecule dropped from the second, the run says so, and the exported
    model records exactly the molecules it was meta-trained and selected on."""
    from rdkit import Chem

    from molprior.data import leakage

    config = _config(trainer={"max_epochs": 1, "patience": 10})
    train, _ = split_tasks(prepared, config)
    first, second = train[0], train[1]
    half = first.inputs[: len(first.inputs) // 2 + 1]
    shared = [s for s in second.inputs if s not in first.inputs][:1]
    respelled = [Chem.MolToSmiles(Chem.MolFromSmiles(s), doRandom=True, canonical=False) for s in half + shared]
    other = tmp_path / "other_benchmark.csv"
    pd.DataFrame({"smiles": respelled, "assay": "other", "label": 1.0}).to_csv(other, index=False)

    outcome = run_metatraining(_config(trainer={"max_epochs": 1, "patience": 10},
                                       leak_guard={"against": [str(other)], "max_shared_fraction": 0.2}),
                               tmp_path / "run", prepared=prepared, progress=False)
    report = pd.read_csv(tmp_path / "run" / "leak_guard.csv")
    rows = report.set_index("assay")
    assert rows.loc[first.assay, "action"] == "left out"
    assert rows.loc[second.assay, "action"] == "shared molecules dropped" and rows.loc[second.assay, "shared"] >= 1
    assert outcome.metrics["leak_guard.tasks_left_out"] == (report["action"] == "left out").sum() >= 1
    from molprior.serialization import read_json_object

    metadata = read_json_object(outcome.model_dir / "model.json")["metadata"]
    assert first.assay not in metadata["train_assays"] and second.assay in metadata["train_assays"]
    assert metadata["leak_guard"]["against"] == [str(other)]

    seen = leakage.load_seen(outcome.model_dir)
    assert not leakage.seen_mask(respelled, seen).any()  # no guarded molecule was trained on
    kept = [s for s in second.inputs if s not in half + shared]
    assert leakage.seen_mask(kept, seen).all()
