"""Losses of the per-assay tasks: classification, regression, and censored regression.

Censored measurements (``<``/``>``, as in MHC binding data with IC50 ``> 20000``) only bound
the true value: a prediction on the right side of the bound costs nothing, one on the wrong
side is penalised like an ordinary squared error (the censored MSE of MHCflurry).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from molprior.data.schema import ABOVE, BELOW, EXACT, RELATION_CODES

__all__ = ["ABOVE", "BELOW", "EXACT", "RELATION_CODES", "binary_loss", "censored_mse"]  # codes re-exported


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
