"""FewShotLearner on a real assay: each algorithm's adaptation, support checks and regression scaling."""

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.chem.standardize import canonical_smiles
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import FewShotLearner, LearnerConfig
from molprior.meta.protonet import prototype_logits
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel


@pytest.fixture(scope="module")
def assay(moleculeace_dir):
    frame = pd.read_csv(moleculeace_dir / "CHEMBL2047_EC50.csv").head(120)
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
    return bank, index, labels, values, support, query


def _learner(**config) -> FewShotLearner:
    torch.manual_seed(0)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=2)),
                      HeadConfig(hidden_dim=32, fingerprint_dim=2048))
    return FewShotLearner(model, LearnerConfig(**config))


@pytest.mark.parametrize("config", [{"algorithm": "maml"}, {"algorithm": "maml", "maml": {"anil": True}},
                                    {"algorithm": "protonet"}, {"algorithm": "finetune", "finetune_steps": 20},
                                    {"algorithm": "finetune", "finetune_steps": 20, "finetune_head_only": True}])
def test_adaptation_fits_the_support_and_leaves_the_model_alone(assay, config):
    bank, index, labels, _, support, _ = assay
    learner = _learner(**config)
    before = {n: p.detach().clone() for n, p in learner.state_dict().items()}
    batch, y = bank.batch(index[support]), torch.from_numpy(labels[support])
    adapted = learner.adapt(batch, y)
    scores = learner.predict(adapted, batch)
    assert scores[y == 1].mean() > scores[y == 0].mean()  # the support is told apart
    assert all(torch.equal(before[n], p) for n, p in learner.state_dict().items())
    if learner.encoder_fixed:  # precomputed representations give the same scores
        assert torch.allclose(learner.predict(adapted, learner.represent(batch)), scores, atol=1e-5)
        assert torch.allclose(learner.predict(learner.adapt(learner.represent(batch), y), batch), scores, atol=1e-5)


def test_protonet_adapted_weights_reproduce_prototype_logits(assay):
    bank, index, labels, _, support, query = assay
    learner = _learner(algorithm="protonet").eval()
    s, q = bank.batch(index[support]), bank.batch(index[query])
    y = torch.from_numpy(labels[support])
    hidden = learner.model.head.hidden
    with torch.no_grad():
        expected = prototype_logits(hidden(learner.model.represent(s)), y, hidden(learner.model.represent(q)))
    assert torch.allclose(learner.predict(learner.adapt(s, y), q), expected, rtol=1e-4, atol=1e-3)


def test_a_one_class_support_is_a_clear_error(assay):
    bank, index, labels, _, support, _ = assay
    actives = support[labels[support] == 1]
    with pytest.raises(ValueError, match="only actives"):
        _learner().adapt(bank.batch(index[actives]), torch.ones(len(actives)))


def test_regression_outputs_are_in_the_measured_units(assay):
    bank, index, _, values, support, _ = assay
    learner = _learner(task_type="regression", algorithm="finetune", finetune_steps=60, finetune_lr=3e-3)
    batch, y = bank.batch(index[support]), torch.from_numpy(values[support])
    adapted = learner.adapt(batch, y)
    assert adapted.target_mean == pytest.approx(float(y.mean()), rel=1e-5)
    predicted = learner.predict(adapted, batch)
    assert abs(predicted.mean().item() - y.mean().item()) < 0.5 * y.std().item()
    assert torch.corrcoef(torch.stack([predicted, y]))[0, 1] > 0.5


def test_prototypes_need_classes():
    with pytest.raises(ValueError, match="prototypes need classes"):
        LearnerConfig(algorithm="protonet", task_type="regression")
    with pytest.raises(ValueError, match="unknown algorithm"):
        LearnerConfig(algorithm="reptile")


def test_a_registered_objective_is_a_task_type_the_learner_adapts_and_meta_trains_on(assay, monkeypatch):
    """A third kind of task registers its objective; the learner takes it as it takes the others
    (here: pXC50 values read through ``10 * sigmoid``, not standardised)."""
    from molprior.errors import InputError
    from molprior.meta.losses import OBJECTIVES, Objective

    def scaled_mse(outputs, targets, relations=None):
        return ((10 * torch.sigmoid(outputs) - targets) ** 2).mean()

    monkeypatch.setitem(OBJECTIVES, "bounded_value", Objective(scaled_mse, lambda out: 10 * torch.sigmoid(out)))
    bank, index, _, values, support, query = assay
    learner = _learner(algorithm="maml", task_type="bounded_value", maml={"anil": True, "inner_steps": 10})
    targets = torch.as_tensor(values[support])
    adapted = learner.adapt(bank.batch(index[support]), targets)
    assert (adapted.target_mean, adapted.target_std) == (0.0, 1.0)  # not standardised
    before = scaled_mse(learner.predict(learner.adapt(bank.batch(index[support]), targets, steps=0),
                                        bank.batch(index[support])), targets)
    after = scaled_mse(learner.predict(adapted, bank.batch(index[support])), targets)
    assert after < before  # the inner loop follows the registered loss
    loss = learner.train().meta_loss(bank.batch(index[support]), targets, bank.batch(index[query[:16]]),
                                     torch.as_tensor(values[query[:16]]))
    loss.backward()
    assert torch.isfinite(loss) and any(p.grad is not None and p.grad.abs().sum() > 0 for p in learner.parameters())
    with pytest.raises(InputError, match="unknown task type 'binding'; choose one of .*'bounded_value'"):
        LearnerConfig(task_type="binding")
