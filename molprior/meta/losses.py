"""Losses of the per-assay tasks: classification, regression, and censored regression.

Censored measurements (``<``/``>``, as in MHC binding data with IC50 ``> 20000``) only bound
the true value: a prediction on the right side of the bound costs nothing, one on the wrong
side is penalised like an ordinary squared error (the censored MSE of MHCflurry).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn.functional as F

from molprior.data.schema import ABOVE, BELOW, EXACT, RELATION_CODES
from molprior.errors import InputError

__all__ = ["ABOVE", "BELOW", "EXACT", "RELATION_CODES", "OBJECTIVES", "Objective", "binary_loss", "censored_mse",
           "objective", "register_objective"]  # codes re-exported


def binary_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy on logits."""
    return F.binary_cross_entropy_with_logits(logits, labels.float())


def censored_mse(predicted: torch.Tensor, target: torch.Tensor, relation: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared error where ``<``/``>`` measurements count only when violated.

    ``relation`` holds :data:`EXACT`, :data:`BELOW` or :data:`ABOVE` per measurement (all exact
    when ``None``).  The target is in the model's output units (e.g. pXC50, or MHCflurry's
    ``1 - log(ic50)/log(50000)``, where an IC50 ``> x`` becomes a score ``< f(x)``).
    """
    error = predicted - target
    if relation is not None:
        below = relation == BELOW  # the true value is below the bound: predictions under it are fine
        above = relation == ABOVE
        error = torch.where(below & (error < 0), torch.zeros_like(error), error)
        error = torch.where(above & (error > 0), torch.zeros_like(error), error)
    return error.pow(2).mean()


#: ``(raw outputs, targets, censoring codes or None) -> loss``.
Loss = Callable[[torch.Tensor, torch.Tensor, "torch.Tensor | None"], torch.Tensor]


@dataclass(frozen=True)
class Objective:
    """What a kind of task trains its model on and how the model's raw outputs read: the loss
    (on raw outputs), the transform that turns raw outputs into predictions, whether a
    support's targets are standardised (by its mean and spread) before adaptation, and whether
    the targets are a task's ``values`` (with their censoring relations) or its ``labels``."""

    loss: Loss
    output: Callable[[torch.Tensor], torch.Tensor]
    standardise_targets: bool = False
    reads_values: bool = False

    def loss_for(self, relations: torch.Tensor | None = None) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """The loss with these censoring codes fixed: ``loss(outputs, targets)``, as MAML's inner loop takes it."""
        return lambda outputs, targets: self.loss(outputs, targets, relations)


OBJECTIVES: dict[str, Objective] = {}


def register_objective(name: str, loss: Loss, output: Callable[[torch.Tensor], torch.Tensor],
                       standardise_targets: bool = False, reads_values: bool = False) -> None:
    """Make ``name`` an objective a task model can be trained on (a name is registered once)."""
    if name in OBJECTIVES:
        raise InputError(f"objective {name!r} is already registered")
    OBJECTIVES[name] = Objective(loss, output, standardise_targets, reads_values)


def objective(name: str) -> Objective:
    """The registered objective ``name``."""
    if name not in OBJECTIVES:
        raise InputError(f"unknown objective {name!r}; choose one of {tuple(OBJECTIVES)}")
    return OBJECTIVES[name]


def _identity(outputs: torch.Tensor) -> torch.Tensor:
    return outputs


#: Active/inactive labels: cross-entropy on logits, read as probabilities.
register_objective("classification", lambda outputs, labels, relations=None: binary_loss(outputs, labels),
                   torch.sigmoid)
#: Measured values (pXC50...), censored or not: the outputs are the values.
register_objective("regression", censored_mse, _identity, standardise_targets=True, reads_values=True)
#: MHC binding: censored squared error on the sigmoid, MHCflurry's transformed affinity
#: ``1 - log(ic50)/log(50000)`` (0-1).
register_objective("affinity", lambda outputs, scores, relations=None: censored_mse(torch.sigmoid(outputs), scores,
                                                                                    relations), torch.sigmoid,
                   reads_values=True)
