"""Graph readouts by name: how a graph's atom embeddings become one vector.

A readout is registered once (:func:`register_readout`) as a factory of its options and chosen
by name: ``readout: mean`` in :class:`~molprior.models.encoder.EncoderConfig`, or
``readout("residue_positions", terminal_slots=4, lengths=(8, 15))`` for peptides.  A saved
model records the name (and options), so a model with a new readout loads wherever that
readout is registered.  Registered here:

- ``mean``, ``sum``, ``max``, ``mean+max``: PyG's global poolings of each graph's atoms;
- ``residue_positions``: a peptide's atoms pooled per residue and laid out by position
  (:class:`~molprior.immunology.peptide_readout.ResiduePositions`); it reads the residue of
  each atom from the :class:`~molprior.immunology.peptide_graphs.PeptideGraphs` the batch was
  built from.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable, Protocol

import torch
from torch_geometric.nn import global_add_pool, global_max_pool, global_mean_pool

from molprior.errors import InputError
from molprior.immunology.peptide_readout import ResiduePositions

#: ``(atom_embeddings, batch, num_graphs) -> one row per graph``.
Pool = Callable[[torch.Tensor, torch.Tensor, "int | None"], torch.Tensor]


class Readout(Protocol):
    """Atom embeddings of a batch of graphs to one row per graph."""

    def width(self, hidden_dim: int) -> int:
        """Width of a row, for ``hidden_dim``-wide atom embeddings."""

    def __call__(self, atoms: torch.Tensor, batch: torch.Tensor, size: int | None = None,
                 graphs: object = None) -> torch.Tensor:
        """Rows of the ``size`` graphs (``batch``: the graph of each atom; ``graphs``: the store
        the batch was built from, for readouts that need more than the atoms)."""


@dataclass(frozen=True)
class Pooling:
    """A pooling of each graph's atom embeddings, ``multiple`` times as wide as an atom's."""

    pool: Pool
    multiple: int = 1

    def width(self, hidden_dim: int) -> int:
        return self.multiple * hidden_dim

    def __call__(self, atoms: torch.Tensor, batch: torch.Tensor, size: int | None = None,
                 graphs: object = None) -> torch.Tensor:
        return self.pool(atoms, batch, size)


#: Name to the factory of a readout from its options.
READOUTS: dict[str, Callable[..., Readout]] = {}


def register_readout(name: str, factory: Callable[..., Readout]) -> None:
    """Make ``name`` a readout: ``factory(**options)`` builds it (re-registering is an error)."""
    if name in READOUTS:
        raise InputError(f"readout {name!r} is already registered")
    READOUTS[name] = factory


def readout(name: str, **options) -> Readout:
    """The registered readout ``name`` with ``options``."""
    if name not in READOUTS:
        raise InputError(f"unknown readout {name!r}; choose one of {tuple(READOUTS)}")
    try:
        return READOUTS[name](**options)
    except TypeError as error:  # an option the readout does not take
        raise InputError(f"readout {name!r}: {error}") from None


def _mean_and_max(h: torch.Tensor, batch: torch.Tensor, size: int | None = None) -> torch.Tensor:
    return torch.cat([global_mean_pool(h, batch, size), global_max_pool(h, batch, size)], dim=-1)


register_readout("mean", partial(Pooling, global_mean_pool))
register_readout("sum", partial(Pooling, global_add_pool))
register_readout("max", partial(Pooling, global_max_pool))
register_readout("mean+max", partial(Pooling, _mean_and_max, multiple=2))
register_readout("residue_positions", ResiduePositions)
