"""Meta-training on a fixed prior's features: the features are the prior's, whatever the
chunking; the exported model reads molecules and scores them as the trained head does."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molprior.config import MetaTrainConfig
from molprior.data.prepare import prepare_table
from molprior.errors import InputError
from molprior.models.heads import HeadConfig
from molprior.serialization import load_learner
from molprior.training import frozen_features
from molprior.training.frozen_features import check_prior_head, feature_module, prior_features, with_prior_trunk
from molprior.workflows.metatrain import build_bank, load_prior, run_metatraining, split_tasks
from _fewshot import TEST, TINY, VAL, long_file

HYPER = {"hyper": {"latent_dim": 4, "generator_hidden": 16, "support_hidden": 8}}


@pytest.fixture(scope="module")
def prior_and_bank(fewshot_models, tmp_path_factory):
    meta_dir, _ = fewshot_models
    prepared = prepare_table(long_file(tmp_path_factory.mktemp("frozen") / "assays.csv"))
    config = MetaTrainConfig(**{**TINY, "input": "x", "val_assays": VAL, "test_assays": TEST})
    train, val = split_tasks(prepared, config)
    return load_prior(str(meta_dir)), build_bank(train + val), prepared


def test_the_features_are_the_priors_hidden_layer_whatever_the_chunk(prior_and_bank, monkeypatch):
    prior, bank, _ = prior_and_bank
    model = prior.task_model().eval()
    features = prior_features(model, bank)
    assert features.features.shape == (len(bank), prior.head_config["hidden_dim"])
    rows = np.array([0, 5, len(bank) - 1])
    with torch.no_grad():
        expected = model.head.hidden(model.represent(bank.batch(rows)))
    # batched message passing is per graph: a molecule's row does not depend on its batch
    torch.testing.assert_close(features.features[rows], expected, rtol=1e-5, atol=1e-6)
    monkeypatch.setattr(frozen_features, "CHUNK", 7)
    torch.testing.assert_close(prior_features(model, bank).features, features.features, rtol=1e-5, atol=1e-6)
    assert list(features.inputs) == list(bank.graphs.smiles)


def test_the_exported_model_scores_molecules_as_the_trained_head_scores_features(prior_and_bank):
    prior, bank, _ = prior_and_bank
    torch.manual_seed(0)
    module = feature_module(HeadConfig(**HYPER), {"algorithm": "maml"}, {}, prior.head_config["hidden_dim"])
    full = with_prior_trunk(module.learner, prior.encoder, prior.head_config, prior.head_state)
    assert full.model.head_config.hidden_dim == prior.head_config["hidden_dim"]
    rows = np.arange(12)
    features = prior_features(prior.task_model(), bank).features[rows]
    with torch.no_grad():
        torch.testing.assert_close(full.model(bank.batch(rows)), module.learner.model(features), rtol=1e-5, atol=1e-5)


def test_a_fixed_prior_is_a_few_shot_model_with_an_mlp_head():
    with pytest.raises(InputError, match="not one"):
        check_prior_head(None, "shipped prior")
    with pytest.raises(InputError, match="hypernetwork head"):
        check_prior_head({"hidden_dim": 8, "hyper": {"latent_dim": 4}}, "a model")
    with pytest.raises(InputError, match="configure a hypernetwork head"):
        feature_module(HeadConfig(), {"algorithm": "maml"}, {}, 8)
    with pytest.raises(InputError, match="freeze_prior"):
        MetaTrainConfig(freeze_prior=True)


def test_meta_training_a_hypernetwork_head_on_a_fixed_prior_exports_a_model_of_molecules(prior_and_bank, tmp_path,
                                                                                         fewshot_models):
    prior, bank, prepared = prior_and_bank
    meta_dir, _ = fewshot_models
    config = MetaTrainConfig(**{**TINY, "input": "x", "val_assays": VAL, "test_assays": TEST, "prior": str(meta_dir),
                                "freeze_prior": True, "head": HYPER, "optim": {"meta_lr": 3e-3},
                                "learner": {"algorithm": "maml", "maml": {"inner_steps": 3, "inner_lr": 0.3}},
                                "trainer": {"max_epochs": 2, "patience": 5}})
    outcome = run_metatraining(config, tmp_path / "run", prepared=prepared, bank=bank, progress=False)
    assert outcome.metrics["steps_trained"] > 0
    learner, description = load_learner(outcome.model_dir)
    assert description["head"]["hyper"]["latent_dim"] == 4
    assert description["head"]["hidden_dim"] == prior.head_config["hidden_dim"]
    # the prior's encoder and hidden layer, unchanged, in front of the trained head
    torch.testing.assert_close(learner.model.head.trunk[0].weight, prior.head_state["net.0.weight"], rtol=0, atol=0)
    assert all(torch.equal(a, b) for a, b in zip(learner.model.encoder.state_dict().values(),
                                                 prior.encoder.state_dict().values()))
    task = split_tasks(prepared, config)[1][0]
    rows = bank.indices(task.inputs)
    labels = torch.as_tensor(task.labels, dtype=torch.float32)
    support = np.concatenate([np.flatnonzero(task.labels == 1)[:8], np.flatnonzero(task.labels == 0)[:8]])
    adapted = learner.adapt(bank.batch(rows[support]), labels[support])
    assert set(adapted.params) == {n for n, _ in learner.model.named_parameters()}
    assert not torch.equal(adapted.params["head.latent"], learner.model.head.latent)
    scores = learner.predict(adapted, bank.batch(rows))
    assert scores.shape == (len(rows),) and torch.isfinite(scores).all()
