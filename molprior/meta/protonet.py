"""Prototypical networks (Snell et al. 2017), FS-Mol's strongest meta-learning baseline.

Each class of the support is summarised by the mean of its members' representations (its
prototype); a query molecule's logit for "active" is how much closer it lies to the active
prototype than to the inactive one (squared Euclidean distances).
"""

from __future__ import annotations

import torch


def prototype_logits(support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
    """Logit of "active" for every query row, from support rows with 0/1 ``labels``."""
    labels = labels.bool()
    if labels.all() or not labels.any():
        raise ValueError("a prototypical network needs actives and inactives in the support")
    active = support[labels].mean(0)
    inactive = support[~labels].mean(0)
    return (query - inactive).pow(2).sum(-1) - (query - active).pow(2).sum(-1)
