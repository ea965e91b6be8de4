"""The objectives by name: each task kind's loss and output transform."""

import pytest
import torch

from molprior.errors import InputError
from molprior.meta import losses
from molprior.meta.losses import ABOVE, BELOW, EXACT, objective


def test_each_task_kind_trains_on_its_loss_and_reads_its_outputs():
    outputs = torch.tensor([0.5, -1.0, 2.0])
    labels = torch.tensor([1.0, 0.0, 1.0])
    classification = objective("classification")
    assert torch.equal(classification.loss_for()(outputs, labels),
                       torch.nn.functional.binary_cross_entropy_with_logits(outputs, labels))
    assert torch.equal(classification.output(outputs), torch.sigmoid(outputs))
    values, relations = torch.tensor([1.0, 0.0, 1.0]), torch.tensor([EXACT, BELOW, ABOVE])
    regression = objective("regression")
    # only the exact measurement and the violated bound count: (0.5-1)^2 and (-1-0)^2 is fine (below), 2 > 1 is fine
    assert regression.loss_for(relations)(outputs, values).item() == pytest.approx(0.25 / 3)
    assert torch.equal(regression.output(outputs), outputs)
    affinity = objective("affinity")
    assert torch.equal(affinity.output(outputs), torch.sigmoid(outputs))
    assert torch.equal(affinity.loss_for(relations)(outputs, values),
                       losses.censored_mse(torch.sigmoid(outputs), values, relations))


def test_a_new_objective_is_one_registration():
    with pytest.raises(InputError, match=r"unknown objective 'ranking'; choose one of \('classification'"):
        objective("ranking")
    try:
        losses.register_objective("ranking", lambda o, t, r=None: -(o * (2 * t - 1)).mean(), torch.tanh)
        assert objective("ranking").loss_for()(torch.tensor([1.0]), torch.tensor([1.0])).item() == -1.0
        with pytest.raises(InputError, match="already registered"):
            losses.register_objective("ranking", losses.censored_mse, torch.tanh)
    finally:
        losses.OBJECTIVES.pop("ranking", None)
