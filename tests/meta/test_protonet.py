"""Prototypical networks: the prototype logit is a linear layer, differentiable, and needs both classes."""

import pytest
import torch

from molprior.errors import InputError
from molprior.meta.protonet import prototype_layer, prototype_logits


@pytest.fixture
def episode():
    generator = torch.Generator().manual_seed(0)
    support = torch.randn(12, 5, generator=generator)
    labels = torch.tensor([1.0, 0.0] * 6)
    return support, labels, torch.randn(7, 5, generator=generator)


def test_the_logit_is_how_much_closer_a_query_lies_to_the_active_prototype(episode):
    support, labels, query = episode
    p1, p0 = support[labels == 1].mean(0), support[labels == 0].mean(0)
    expected = (query - p0).pow(2).sum(1) - (query - p1).pow(2).sum(1)
    torch.testing.assert_close(prototype_logits(support, labels, query), expected, rtol=1e-5, atol=1e-5)
    weight, bias = prototype_layer(support, labels)
    assert weight.shape == (1, 5) and bias.shape == (1,)
    torch.testing.assert_close(torch.nn.functional.linear(query, weight, bias).squeeze(1), expected,
                               rtol=1e-5, atol=1e-5)


def test_meta_training_learns_the_space_through_the_prototypes(episode):
    support, labels, query = episode
    support = support.clone().requires_grad_(True)
    prototype_logits(support, labels, query).sum().backward()
    assert support.grad is not None and support.grad.abs().sum() > 0


@pytest.mark.parametrize("labels", [torch.ones(12), torch.zeros(12)])
def test_a_support_of_one_class_is_refused(episode, labels):
    with pytest.raises(InputError, match="actives and inactives"):
        prototype_layer(episode[0], labels)
