"""Saving and loading few-shot models (molprior.serialization.fewshot): a meta-trained model
and models adapted to one assay (MAML in measured units, the GP head with its support state)
come back with bit-identical outputs on real molecules, the molecules a model saw travel with
it, the shipped model's older description still loads, and altered files are refused before
anything is loaded."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

from molprior.chem.standardize import canonical_smiles
from molprior.data.leakage import SEEN_FILE, load_seen, molecule_keys, seen_keys
from molprior.files import ChecksumError
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import Adapted, FewShotLearner, LearnerConfig
from molprior.meta.maml import MAMLConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel
from molprior.serialization import ADAPTED_STATE, FEWSHOT_FORMAT, load_learner, save_learner
from molprior.tracking.artifacts import SHIPPED_FEWSHOT

ASSAY = "CHEMBL2047_EC50"


@dataclass
class Assay:
    """Real molecules of one assay: a support of 8 actives and 8 inactives, the rest the query."""

    smiles: list[str]
    support: object  # graph batches of the support and the query molecules
    query: object
    labels: torch.Tensor  # the support's labels (pEC50 above the assay's median) ...
    values: torch.Tensor  # ... and its measured pEC50


@pytest.fixture(scope="module")
def assay(moleculeace_dir) -> Assay:
    frame = pd.read_csv(moleculeace_dir / f"{ASSAY}.csv").head(60)
    smiles = [canonical_smiles(s) for s in frame["smiles"]]
    bank, errors = MoleculeBank.build(smiles, fingerprint_bits=2048)
    assert not errors
    values = frame["y"].to_numpy(np.float32)
    labels = (values >= np.median(values)).astype(np.float32)
    rng = np.random.default_rng(0)
    support = np.concatenate([rng.choice(np.flatnonzero(labels == 1), 8, replace=False),
                              rng.choice(np.flatnonzero(labels == 0), 8, replace=False)])
    query = np.setdiff1d(np.arange(len(smiles)), support)
    index = bank.indices(smiles)
    return Assay([smiles[i] for i in support], bank.batch(index[support]), bank.batch(index[query]),
                 torch.from_numpy(labels[support]), torch.from_numpy(values[support]))


def _learner(**config) -> FewShotLearner:
    """A tiny untrained learner whose head reads the embedding and 2048 ECFP4 bits."""
    torch.manual_seed(0)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=2)),
                      HeadConfig(hidden_dim=32, fingerprint_dim=2048))
    return FewShotLearner(model, LearnerConfig(**config)).eval()


def _same_state(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    a, b = first.state_dict(), second.state_dict()
    return sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_a_meta_trained_model_comes_back_with_its_weights_config_and_adaptation(assay, tmp_path):
    """Learned inner learning rates included: the reloaded model adapts to a support exactly as
    the saved one does."""
    learner = _learner(algorithm="maml", maml={"inner_steps": 2, "learn_inner_lr": True})
    with torch.no_grad():
        for rates in learner.maml.inner_lrs.values():
            rates.uniform_(0.005, 0.02)  # learned rates differ from the configured one
    metadata = {"train_assays": ["CHEMBL233_Ki", "CHEMBL236_Ki"], "note": "unit test"}
    save_learner(learner, tmp_path / "model", metadata)
    loaded, description = load_learner(tmp_path / "model")
    assert not loaded.training
    assert description["format"] == FEWSHOT_FORMAT and description["adapted"] is False
    assert description["metadata"] == metadata and description["adapted_state"] == {}
    assert loaded.config == learner.config and description["learner"] == learner.config.to_dict()
    assert any(k.startswith("maml.inner_lrs.") for k in loaded.state_dict())
    assert _same_state(loaded, learner)
    expected = learner.predict(learner.adapt(assay.support, assay.labels), assay.query)
    assert torch.equal(loaded.predict(loaded.adapt(assay.support, assay.labels), assay.query), expected)


def test_an_adapted_model_predicts_in_measured_units_as_the_adaptation_did(assay, tmp_path):
    learner = _learner(task_type="regression", algorithm="maml", maml={"first_order": True, "inner_steps": 3})
    adapted = learner.adapt(assay.support, assay.values)
    assert adapted.target_mean == pytest.approx(float(assay.values.mean()))
    save_learner(learner, tmp_path / "adapted", {"assay": ASSAY}, adapted=adapted)
    loaded, description = load_learner(tmp_path / "adapted")
    assert description["adapted"] is True and description["metadata"] == {"assay": ASSAY}
    assert (description["target_mean"], description["target_std"]) == (adapted.target_mean, adapted.target_std)
    weights = dict(loaded.model.named_parameters())
    assert all(torch.equal(weights[name], value) for name, value in adapted.params.items())  # the adapted weights...
    assert not _same_state(loaded, learner)  # ...not the meta-learned ones
    again = Adapted({n: p.detach() for n, p in weights.items()}, description["target_mean"],
                    description["target_std"], description["adapted_state"])
    assert torch.equal(loaded.predict(again, assay.query), learner.predict(adapted, assay.query))


def test_a_gp_heads_support_state_is_saved_beside_the_weights_and_comes_back(assay, tmp_path):
    learner = _learner(algorithm="adkf", gp={"fit_steps": 10})
    adapted = learner.adapt(assay.support, assay.labels)
    assert sorted(adapted.state) == ["gp.features", "gp.targets", "gp.theta"]
    save_learner(learner, tmp_path / "adapted", adapted=adapted)
    stored = load_file(str(tmp_path / "adapted" / "model.safetensors"))
    assert sorted(k for k in stored if k.startswith(ADAPTED_STATE)) == [ADAPTED_STATE + k for k in sorted(adapted.state)]
    loaded, description = load_learner(tmp_path / "adapted")  # loads strictly: the state is not taken for weights
    state = description["adapted_state"]
    assert sorted(state) == sorted(adapted.state)
    assert all(torch.equal(state[k], v) for k, v in adapted.state.items())
    again = Adapted({n: p.detach() for n, p in loaded.model.named_parameters()}, state=state)
    scores, spread = loaded.predict_with_spread(again, assay.query)
    expected_scores, expected_spread = learner.predict_with_spread(adapted, assay.query)
    assert torch.equal(scores, expected_scores) and torch.equal(spread, expected_spread)


def test_the_molecules_a_model_saw_travel_with_it_under_its_checksums(assay, fewshot_dir, tmp_path):
    seen = seen_keys(molecule_keys(assay.smiles).values())
    directory = save_learner(_learner(), tmp_path / "model", seen=seen)
    np.testing.assert_array_equal(load_seen(directory), seen)
    assert SEEN_FILE in json.loads((directory / "checksums.json").read_text())["sha256"]
    assert load_seen(fewshot_dir) is None  # a model saved without them does not claim any
    save_learner(_learner(), tmp_path / "other", seen=seen)
    assert load_seen(save_learner(_learner(), tmp_path / "other")) is None  # nor inherits an earlier model's
    data = bytearray((directory / SEEN_FILE).read_bytes())
    data[-1] ^= 0x01
    (directory / SEEN_FILE).write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=rf"changed: \['{SEEN_FILE}'\]"):
        load_learner(directory)


@pytest.mark.parametrize("altered", ["model.safetensors", "model.json"])
def test_an_altered_file_is_refused_before_anything_is_loaded(fewshot_dir, altered):
    path = fewshot_dir / altered
    if altered == "model.json":  # a hand edit that would make a meta-trained model pass for an adapted one
        path.write_text(path.read_text().replace('"adapted": false', '"adapted": true'))
    else:
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=rf"changed: \['{altered}'\]"):
        load_learner(fewshot_dir)


def test_the_shipped_models_older_description_loads_and_saves_again_unchanged(assay, tmp_path):
    """The shipped model was written when a learner's description held only the settings it
    used (an ADKF learner: no MAML keys); it loads with the defaults, and saved again by this
    molprior it adapts and scores exactly as before."""
    shipped = json.loads((SHIPPED_FEWSHOT / "model.json").read_text())
    assert shipped["learner"]["algorithm"] == "adkf" and shipped["learner"]["maml"] == {}
    learner, description = load_learner(SHIPPED_FEWSHOT)
    assert learner.config.maml == MAMLConfig()
    save_learner(learner, tmp_path / "again", description["metadata"], seen=load_seen(SHIPPED_FEWSHOT))
    again, again_description = load_learner(tmp_path / "again")
    assert again_description["learner"]["maml"] == MAMLConfig().to_dict()
    assert again_description["metadata"] == description["metadata"]
    np.testing.assert_array_equal(load_seen(tmp_path / "again"), load_seen(SHIPPED_FEWSHOT))
    assert _same_state(again, learner)
    scores, spread = learner.predict_with_spread(learner.adapt(assay.support, assay.labels), assay.query)
    again_scores, again_spread = again.predict_with_spread(again.adapt(assay.support, assay.labels), assay.query)
    assert torch.equal(again_scores, scores) and torch.equal(again_spread, spread)
