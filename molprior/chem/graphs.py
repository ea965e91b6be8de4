"""A compact store of many molecular graphs, PyG-style (concatenated arrays plus offsets).

Like ``InMemoryDataset``'s ``(data, slices)``, all graphs share three arrays; graph ``i``
is the slice between ``atom_ptr[i]:atom_ptr[i+1]`` and ``edge_ptr[i]:edge_ptr[i+1]``.
Indexing gives a :class:`torch_geometric.data.Data` with ``x`` and ``edge_attr`` as long
tensors of categorical indices, ready for embedding tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from molprior.chem.features import ATOM_FEATURES, BOND_FEATURES


@dataclass
class MolGraphs:
    """Graphs of ``len(smiles)`` molecules."""

    smiles: list[str]
    x: np.ndarray  # uint8, total_atoms x 9
    edge_index: np.ndarray  # int64, 2 x total_edges, atom indices local to each graph
    edge_attr: np.ndarray  # uint8, total_edges x 3
    atom_ptr: np.ndarray  # int64, len(smiles) + 1
    edge_ptr: np.ndarray  # int64, len(smiles) + 1

    @classmethod
    def empty(cls) -> "MolGraphs":
        return cls([], np.zeros((0, len(ATOM_FEATURES)), np.uint8), np.zeros((2, 0), np.int64),
                   np.zeros((0, len(BOND_FEATURES)), np.uint8), np.zeros(1, np.int64), np.zeros(1, np.int64))

    @classmethod
    def from_arrays(cls, smiles: Sequence[str], graphs: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> "MolGraphs":
        """Pack per-molecule ``(x, edge_index, edge_attr)`` triples."""
        if not graphs:
            return cls.empty()
        atoms = np.fromiter((g[0].shape[0] for g in graphs), dtype=np.int64, count=len(graphs))
        edges = np.fromiter((g[1].shape[1] for g in graphs), dtype=np.int64, count=len(graphs))
        return cls(
            list(smiles),
            np.concatenate([g[0] for g in graphs]),
            np.concatenate([g[1] for g in graphs], axis=1),
            np.concatenate([g[2] for g in graphs]),
            np.concatenate([[0], np.cumsum(atoms)]),
            np.concatenate([[0], np.cumsum(edges)]),
        )

    @classmethod
    def concat(cls, stores: Sequence["MolGraphs"]) -> "MolGraphs":
        stores = [s for s in stores if len(s)]
        if not stores:
            return cls.empty()
        if len(stores) == 1:
            return stores[0]
        atom_ptr, edge_ptr = [np.zeros(1, np.int64)], [np.zeros(1, np.int64)]
        atom_base = edge_base = 0
        for s in stores:
            atom_ptr.append(s.atom_ptr[1:] + atom_base)
            edge_ptr.append(s.edge_ptr[1:] + edge_base)
            atom_base += int(s.atom_ptr[-1])
            edge_base += int(s.edge_ptr[-1])
        return cls(
            [smi for s in stores for smi in s.smiles],
            np.concatenate([s.x for s in stores]),
            np.concatenate([s.edge_index for s in stores], axis=1),
            np.concatenate([s.edge_attr for s in stores]),
            np.concatenate(atom_ptr),
            np.concatenate(edge_ptr),
        )

    def __len__(self) -> int:
        return len(self.smiles)

    def _position(self, i: int) -> int:
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"graph {i} out of range for {n} graphs")
        return i + n if i < 0 else i

    def arrays(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, edge_index, edge_attr)`` of graph ``i`` (views, no copies)."""
        i = self._position(i)
        a0, a1 = self.atom_ptr[i], self.atom_ptr[i + 1]
        e0, e1 = self.edge_ptr[i], self.edge_ptr[i + 1]
        return self.x[a0:a1], self.edge_index[:, e0:e1], self.edge_attr[e0:e1]

    def select(self, order: np.ndarray) -> "MolGraphs":
        """A new store with graphs ``order[0], order[1], ...`` (repeats allowed)."""
        order = np.asarray(order, dtype=np.int64)
        if len(order) and (order.min() < -len(self) or order.max() >= len(self)):
            raise IndexError(f"graph indices out of range for {len(self)} graphs")
        order = np.where(order < 0, order + len(self), order)
        if len(order) == len(self) and np.array_equal(order, np.arange(len(self))):
            return self
        atoms = self.atom_ptr[order + 1] - self.atom_ptr[order]
        edges = self.edge_ptr[order + 1] - self.edge_ptr[order]
        atom_rows = concatenated_ranges(self.atom_ptr[order], atoms)
        edge_rows = concatenated_ranges(self.edge_ptr[order], edges)
        return MolGraphs(
            [self.smiles[i] for i in order],
            self.x[atom_rows],
            self.edge_index[:, edge_rows],
            self.edge_attr[edge_rows],
            np.concatenate([[0], np.cumsum(atoms)]),
            np.concatenate([[0], np.cumsum(edges)]),
        )

    def __getitem__(self, i: int):
        """Graph ``i`` as a :class:`torch_geometric.data.Data`."""
        import torch
        from torch_geometric.data import Data

        i = self._position(i)
        x, edge_index, edge_attr = self.arrays(i)
        return Data(
            x=torch.from_numpy(x.astype(np.int64)),
            edge_index=torch.from_numpy(np.ascontiguousarray(edge_index)),
            edge_attr=torch.from_numpy(edge_attr.astype(np.int64)),
            smiles=self.smiles[i],
        )

    def batch_edge_index(self) -> np.ndarray:
        """All edges in batch numbering (atoms numbered across the graphs, in order)."""
        return self.edge_index + np.repeat(self.atom_ptr[:-1], np.diff(self.edge_ptr))[None, :]

    def to_batch(self, order: np.ndarray | None = None):
        """Graphs ``order`` (all when ``None``) as one :class:`torch_geometric.data.Batch`,
        built from the shared arrays without a per-graph ``Data`` (the same tensors as
        ``Batch.from_data_list``, far faster for the many small batches of meta-learning)."""
        import torch
        from torch_geometric.data import Batch

        store = self if order is None else self.select(order)
        atoms = np.diff(store.atom_ptr)
        batch = Batch(
            x=torch.from_numpy(store.x.astype(np.int64)),
            edge_index=torch.from_numpy(store.batch_edge_index()),
            edge_attr=torch.from_numpy(store.edge_attr.astype(np.int64)),
            batch=torch.from_numpy(np.repeat(np.arange(len(store), dtype=np.int64), atoms)),
            ptr=torch.from_numpy(store.atom_ptr.copy()),
        )
        batch._num_graphs = len(store)
        return batch

    def to_data_list(self) -> list:
        return [self[i] for i in range(len(self))]


def concatenated_ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets
