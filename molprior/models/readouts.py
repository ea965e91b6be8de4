"""Graph readouts by name: how a molecule's atom embeddings become one vector.

A readout is registered once (:func:`register_readout`) and chosen by name in
:class:`~molprior.models.encoder.EncoderConfig` (``readout: mean``); a saved model records the
name, so a model with a new readout loads wherever that readout is registered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

from molprior.errors import InputError

#: ``(atom_embeddings, batch, num_graphs) -> one row per graph``.
Pool = Callable[[torch.Tensor, torch.Tensor, "int | None"], torch.Tensor]


@dataclass(frozen=True)
class Readout:
    """A pooling of atom embeddings and how wide its output is, in multiples of the atoms'."""

    pool: Pool
    width: int = 1


READOUTS: dict[str, Readout] = {}


def register_readout(name: str, pool: Pool, width: int = 1) -> None:
    """Make ``name`` a readout every encoder can use (re-registering a name is an error)."""
    if name in READOUTS:
        raise InputError(f"readout {name!r} is already registered")
    if width < 1:
        raise InputError("a readout's width is a positive multiple of the atom embedding's")
    READOUTS[name] = Readout(pool, width)


def readout(name: str) -> Readout:
    """The registered readout ``name``."""
    if name not in READOUTS:
        raise InputError(f"unknown readout {name!r}; choose one of {tuple(READOUTS)}")
    return READOUTS[name]


def _mean_and_max(h: torch.Tensor, batch: torch.Tensor, size: int | None = None) -> torch.Tensor:
    return torch.cat([global_mean_pool(h, batch, size), global_max_pool(h, batch, size)], dim=-1)


register_readout("mean", global_mean_pool)
register_readout("sum", global_add_pool)
register_readout("max", global_max_pool)
register_readout("mean+max", _mean_and_max, width=2)
