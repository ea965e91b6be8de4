"""Prototypical networks (Snell et al. 2017), FS-Mol's strongest meta-learning baseline.

Each class of the support is summarised by the mean of its members' representations (its
prototype); a query molecule's logit for "active" is how much closer it lies to the active
prototype than to the inactive one (squared Euclidean distances).
"""

from __future__ import annotations

import torch

from molprior.errors import InputError


def prototype_layer(support: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The linear layer ``(weight, bias)`` whose logit equals the prototype logit: with
    prototypes ``p1`` (actives) and ``p0`` (inactives), ``|q-p0|^2 - |q-p1|^2 = 2(p1-p0).q +
    |p0|^2 - |p1|^2``.  Differentiable, so meta-training learns the space through it."""
    active = labels > 0.5
    if active.all() or not active.any():
        raise InputError("prototypes need actives and inactives in the support")
    p1, p0 = support[active].mean(0), support[~active].mean(0)
    return (2 * (p1 - p0)).unsqueeze(0), (p0.pow(2).sum() - p1.pow(2).sum()).reshape(1)


def prototype_logits(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Logit of "active" for every query row, from support rows with 0/1 ``labels``."""
    weight, bias = prototype_layer(support, labels)
    return query @ weight.squeeze(0) + bias
