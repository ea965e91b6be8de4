"""Multitask batches on 20 real FS-Mol training tasks: each chosen molecule with all its
measurements on their own assays, values standardised per assay, relations kept, and batches
seeded by position so that they repeat whatever order a loader asks for them in."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from molprior.data.prepare import prepare_table
from molprior.data.schema import BELOW, EXACT
from molprior.data.tasks import tasks_from_table
from molprior.training.multitask_data import MultitaskBatches, MultitaskConfig
from molprior.workflows.metatrain import build_bank

FSMOL = Path(__file__).resolve().parents[2] / "data" / "fsmol" / "fsmol.csv.gz"


@pytest.fixture(scope="module")
def tasks_and_bank(tmp_path_factory):
    """20 FS-Mol training tasks of 48 to 80 molecules, and the bank of their molecules."""
    table = pd.read_csv(FSMOL, keep_default_na=False)
    sizes = table.groupby("assay", sort=False).size()
    train = [a for a in dict.fromkeys(table.loc[table["split"] == "train", "assay"]) if 48 <= sizes[a] <= 80][:20]
    path = tmp_path_factory.mktemp("fsmol") / "fsmol_subset.csv"
    table[table["assay"].isin(train)].groupby("assay", sort=False).head(80).to_csv(path, index=False)
    tasks = tasks_from_table(prepare_table(path).table, train)
    return tasks, build_bank(tasks)


def test_a_batch_holds_each_chosen_molecules_measurements_on_their_own_assays(tasks_and_bank):
    train, bank = tasks_and_bank
    batches = MultitaskBatches(train, bank, batch_size=64, length=5, seed=3)
    assert batches.num_tasks == 20 and len(batches) == 5
    batch = batches[2]
    chosen = batches.molecules[np.sort(np.random.default_rng([3, 0, 2]).choice(len(batches.molecules), 64,
                                                                               replace=False))]
    names = [bank.graphs.smiles[i] for i in chosen]
    assert batch.molecules.num_graphs == 64
    measured = list(zip(batch.rows.tolist(), batch.tasks.tolist(), batch.labels.tolist()))
    for row, t, label in measured:
        task = train[t]
        assert label == task.labels[task.inputs.index(names[row])]
    # every measurement of every chosen molecule is in the batch, once (FS-Mol has repeats within a task)
    expected = sorted((r, t) for r, name in enumerate(names) for t, task in enumerate(train)
                      for _ in range(task.inputs.count(name)))
    assert sorted((r, t) for r, t, _ in measured) == expected
    # values are standardised per assay over its own measurements
    first = batches.values[batches.task_ids == 0]
    assert abs(float(np.nanmean(first))) < 1e-5 and abs(float(np.nanstd(first)) - 1) < 1e-5
    # an item is the same whatever was drawn before it (seeded by seed, epoch and position)
    again = MultitaskBatches(train, bank, batch_size=64, length=5, seed=3)[2]
    assert torch.equal(again.tasks, batch.tasks) and torch.equal(again.labels, batch.labels)
    batches.epoch = 1
    assert not torch.equal(batches[2].tasks, batch.tasks)


def test_a_batch_larger_than_the_molecules_holds_every_measurement_once(tasks_and_bank):
    train, bank = tasks_and_bank
    tasks = train[:2]
    batches = MultitaskBatches(tasks, bank, batch_size=10_000, length=1)
    batch = batches[0]
    molecules = list(dict.fromkeys(s for t in tasks for s in t.inputs))
    assert batch.molecules.num_graphs == len(molecules)
    assert sorted(set(batch.rows.tolist())) == list(range(len(molecules)))
    assert len(batch.tasks) == sum(len(t) for t in tasks)
    names = [bank.graphs.smiles[i] for i in batches.molecules]  # all of them: row r is the r-th in the bank
    for t, task in enumerate(tasks):
        mine = batch.tasks == t
        got = sorted(zip([names[r] for r in batch.rows[mine].tolist()], batch.labels[mine].tolist()))
        assert got == sorted(zip(task.inputs, task.labels.astype(np.float32).tolist()))


def _per_molecule(molecules: list[str], values) -> dict[str, list[float]]:
    """``values`` (one per measurement, of ``molecules``) by molecule, each molecule's sorted."""
    out: dict[str, list[float]] = {}
    for molecule, value in zip(molecules, values):
        out.setdefault(molecule, []).append(float(np.float32(value)))
    return {molecule: sorted(v) for molecule, v in out.items()}


def _assert_same(got: dict[str, list[float]], want: dict[str, list[float]]) -> None:
    assert got.keys() == want.keys()
    for name in want:
        np.testing.assert_allclose(got[name], want[name], atol=1e-5, err_msg=name)


def test_values_are_standardised_per_assay_and_relations_kept(tasks_and_bank):
    train, bank = tasks_and_bank
    measured = train[0]  # 29 of its measurements are censored
    gappy = dataclasses.replace(measured, assay="gappy", values=measured.values.copy())
    gappy.values[:5] = np.nan
    constant = dataclasses.replace(measured, assay="constant", values=np.full(len(measured), 6.0))
    unmeasured = dataclasses.replace(measured, assay="labels only", values=None, relations=None)
    batches = MultitaskBatches([measured, gappy, constant, unmeasured], bank, batch_size=10_000, length=1)
    batch = batches[0]
    names = [bank.graphs.smiles[i] for i in batches.molecules]  # all of them: row r is the r-th in the bank

    def got(t: int, column: torch.Tensor) -> dict[str, list[float]]:
        mine = batch.tasks == t
        return _per_molecule([names[r] for r in batch.rows[mine].tolist()], column[mine].tolist())

    raw = measured.values
    _assert_same(got(0, batch.values), _per_molecule(measured.inputs, (raw - raw.mean()) / raw.std()))
    finite = gappy.values[5:]  # NaN where the assay gave no value; the rest over the values it gave
    _assert_same(got(1, batch.values), _per_molecule(gappy.inputs, np.concatenate(
        [np.full(5, np.nan), (finite - finite.mean()) / finite.std()])))
    assert torch.isnan(batch.values[batch.tasks == 2]).all()  # values that do not vary say nothing
    assert torch.isnan(batch.values[batch.tasks == 3]).all()  # nor does an assay without values
    assert (batch.relations[batch.tasks == 3] == EXACT).all()  # and its measurements count as exact
    assert (measured.relations == BELOW).sum() == 29
    assert got(0, batch.relations) == _per_molecule(measured.inputs, measured.relations)  # each its own


def test_batches_repeat_whatever_order_the_loader_asks_for_them(tasks_and_bank):
    train, bank = tasks_and_bank
    batches = MultitaskBatches(train, bank, batch_size=32, length=5, seed=7)
    order = [3, 0, 4, 1, 2]
    loaded = list(DataLoader(batches, batch_size=None, sampler=order))
    for i, batch in zip(order, loaded):
        direct = batches[i]
        assert torch.equal(direct.molecules.x, batch.molecules.x)
        assert torch.equal(direct.molecules.ptr, batch.molecules.ptr)
        for name in ("rows", "tasks", "labels", "relations"):
            assert torch.equal(getattr(direct, name), getattr(batch, name)), name
        torch.testing.assert_close(direct.values, batch.values, equal_nan=True)
    assert len({tuple(b.molecules.ptr.tolist()) for b in loaded}) == 5  # and they differ from each other


def test_the_multitask_config_and_tasks_are_checked(tasks_and_bank):
    with pytest.raises(ValueError, match="batch_size must be positive"):
        MultitaskConfig(batch_size=0)
    with pytest.raises(ValueError, match="value_weight must not be negative"):
        MultitaskConfig(value_weight=-0.5)
    assert MultitaskConfig(value_weight=0).value_weight == 0  # labels only
    with pytest.raises(ValueError, match="at least one training assay"):
        MultitaskBatches([], tasks_and_bank[1], batch_size=8, length=1)
