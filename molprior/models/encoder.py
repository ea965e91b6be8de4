"""The graph encoder: the prior that every downstream stage starts from.

GINE-style message passing (Hu et al., 2020, "Strategies for pre-training graph neural
networks") on the OGB-style categorical features of :mod:`molprior.chem.features`: each
layer embeds the bond features, passes messages ``ReLU(h_j + e_ij)``, updates with an MLP,
and adds a residual connection with LayerNorm.  LayerNorm rather than BatchNorm keeps the
encoder free of running statistics, so MAML's functional inner loop treats it as a plain
function of its parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch_geometric.nn import GINEConv

from molprior.chem.features import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS
from molprior.errors import InputError
from molprior.models.fixed_blocks import rowwise_in_fixed_blocks
from molprior.models.readouts import readout
from molprior.models.receptive_fields import ReceptiveFields


@dataclass
class EncoderConfig:
    """Width, depth and readout of the graph encoder."""

    hidden_dim: int = 128
    num_layers: int = 4
    dropout: float = 0.0
    readout: str = "mean"

    def __post_init__(self) -> None:
        readout(self.readout)  # an unknown name is an error here, with the registered ones
        if self.hidden_dim < 1 or self.num_layers < 1:
            raise InputError("hidden_dim and num_layers must be positive")

    @property
    def output_dim(self) -> int:
        """Size of the molecule embedding."""
        return readout(self.readout).width(self.hidden_dim)

    def to_dict(self) -> dict:
        return asdict(self)


class CategoricalEmbedding(nn.Module):
    """Sum of one embedding table per categorical feature column (OGB's Atom/BondEncoder).

    A batch holds few distinct rows of features (atoms and bonds of the same kinds recur), so
    the sum is computed once per distinct row and then gathered: the same additions in the same
    order for every row, so the same bits as summing row by row, at a fraction of the cost."""

    def __init__(self, dims: tuple[int, ...], hidden_dim: int):
        super().__init__()
        self.dims = tuple(dims)
        self.tables = nn.ModuleList(nn.Embedding(d, hidden_dim) for d in dims)

    def _sum(self, features: torch.Tensor) -> torch.Tensor:
        out = self.tables[0](features[:, 0])
        for column, table in enumerate(self.tables[1:], start=1):
            out = out + table(features[:, column])
        return out

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features.long()
        if features.shape[0] == 0 or bool((features < 0).any()) or \
                bool((features >= features.new_tensor(self.dims)).any()):
            return self._sum(features)  # the tables say what is out of range
        codes = features[:, 0]
        for column, size in enumerate(self.dims[1:], start=1):
            codes = codes * size + features[:, column]  # one integer per distinct row
        distinct, rows = torch.unique(codes, return_inverse=True)
        columns = []
        for size in reversed(self.dims):
            columns.append(distinct % size)
            distinct = distinct // size
        return self._sum(torch.stack(columns[::-1], dim=1))[rows]


class GraphEncoder(nn.Module):
    """Atom embeddings and a molecule embedding from a (batched) molecular graph."""

    def __init__(self, config: EncoderConfig = EncoderConfig()):
        super().__init__()
        self.config = config
        h = config.hidden_dim
        self.atom_embedding = CategoricalEmbedding(ATOM_FEATURE_DIMS, h)
        self.bond_embeddings = nn.ModuleList(CategoricalEmbedding(BOND_FEATURE_DIMS, h) for _ in range(config.num_layers))
        self.convs = nn.ModuleList(
            GINEConv(nn.Sequential(nn.Linear(h, 2 * h), nn.ReLU(), nn.Linear(2 * h, h)), train_eps=True)
            for _ in range(config.num_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(h) for _ in range(config.num_layers))
        self.dropout = nn.Dropout(config.dropout)
        self._readout = readout(config.readout)

    def atom_embeddings(self, x: torch.Tensor, edge_index: torch.Tensor, edge_attr: torch.Tensor) -> torch.Tensor:
        """One embedding per atom after all message-passing layers."""
        h = self.atom_embedding(x)
        for conv, bonds, norm in zip(self.convs, self.bond_embeddings, self.norms):
            h = h + self.dropout(torch.relu(norm(conv(h, edge_index, bonds(edge_attr)))))
        return h

    def field_embeddings(self, fields: ReceptiveFields) -> torch.Tensor:
        """One embedding per distinct receptive field of the last layer (``fields`` found for
        this encoder's depth): what :meth:`atom_embeddings` gives every atom of that field, with
        each layer run once per field.  The additions are those of message passing, in the same
        order; dense layers run in fixed-size blocks (:mod:`molprior.models.fixed_blocks`), so a
        field's embedding does not depend on the other fields of the batch."""
        if len(fields.layers) != len(self.convs):
            raise ValueError(f"receptive fields of {len(fields.layers)} layers for an encoder of {len(self.convs)}")
        device = self.atom_embedding.tables[0].weight.device
        tensor = lambda array: torch.from_numpy(array).to(device)  # noqa: E731
        h = self.atom_embedding(tensor(fields.features))
        for layer, conv, bonds, norm in zip(fields.layers, self.convs, self.bond_embeddings, self.norms):
            bond_h = bonds(tensor(fields.bond_features))
            own = h[tensor(layer.own)]
            messages = torch.zeros_like(own)
            for neighbour, bond in zip(tensor(layer.neighbours).T, tensor(layer.bonds).T):
                message = (h[neighbour.clamp(min=0)] + bond_h[bond]).relu()
                messages = messages + torch.where((neighbour >= 0).unsqueeze(1), message, 0.0)
            update = rowwise_in_fixed_blocks(conv.nn, messages + (1 + conv.eps) * own)
            h = own + self.dropout(torch.relu(norm(update)))
        return h

    def readout(self, h: torch.Tensor, batch: torch.Tensor, size: int | None = None,
                graphs: object = None) -> torch.Tensor:
        """The molecule embeddings: the configured readout (:mod:`molprior.models.readouts`) of
        the atom embeddings ``h`` (``graphs``: the store the batch was built from)."""
        return self._readout(h, batch, size, graphs)

    def forward(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """``(atom_embeddings, molecule_embeddings)`` of a PyG ``Batch`` (or ``Data``)."""
        batch = data.batch if getattr(data, "batch", None) is not None else data.x.new_zeros(data.x.size(0))
        h = self.atom_embeddings(data.x, data.edge_index, data.edge_attr)
        return h, self.readout(h, batch, getattr(data, "num_graphs", None))

    def embed(self, data) -> torch.Tensor:
        """Molecule embeddings only."""
        return self.forward(data)[1]
