"""Batches for pretraining: molecular graphs paired with their SELFIES token ids."""

from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset
from torch_geometric.data import Batch

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import featurize_smiles
from molprior.chem.graphs import MolGraphs
from molprior.chem.tokenizer import SelfiesVocabulary


class GraphTokenDataset(Dataset):
    """Graph ``i`` of a :class:`MolGraphs` store and the token ids of the same molecule."""

    def __init__(self, graphs: MolGraphs, token_ids: Sequence[Sequence[int]]):
        if len(graphs) != len(token_ids):
            raise ValueError("one token sequence per graph")
        self.graphs = graphs
        self.token_ids = [torch.as_tensor(ids, dtype=torch.long) for ids in token_ids]

    def __len__(self) -> int:
        return len(self.graphs)

    def __getitem__(self, i: int):
        return self.graphs[i], self.token_ids[i]

    def subset(self, indices: Sequence[int]) -> "GraphTokenDataset":
        """The items at ``indices``, in that order."""
        indices = list(indices)
        return GraphTokenDataset(self.graphs.select(np.asarray(indices, dtype=np.int64)),
                                 [self.token_ids[i] for i in indices])


def collate(items, bos_id: int = 1, pad_id: int = 0):
    """``(graph batch, decoder inputs, targets)``: inputs start with ``<bos>``, targets end
    with ``<eos>``; both are padded with ``<pad>`` to the longest sequence of the batch."""
    graphs, ids = zip(*items)
    length = max(len(t) for t in ids)
    targets = torch.full((len(ids), length), pad_id, dtype=torch.long)
    inputs = torch.full((len(ids), length), pad_id, dtype=torch.long)
    for row, t in enumerate(ids):
        targets[row, : len(t)] = t
        inputs[row, 0] = bos_id
        inputs[row, 1 : len(t)] = t[:-1]
    return Batch.from_data_list(list(graphs)), inputs, targets


class PretrainDataModule(pl.LightningDataModule):
    """Featurises a tokenised corpus once (through the on-disk cache) and splits off a
    validation set at random (seeded)."""

    def __init__(self, smiles: Sequence[str], tokens: Sequence[Sequence[str]], vocabulary: SelfiesVocabulary,
                 batch_size: int = 128, val_fraction: float = 0.05, seed: int = 0, n_jobs: int = 1,
                 cache: FeatureCache | None = None, num_workers: int = 0):
        super().__init__()
        self.smiles, self.tokens, self.vocabulary = list(smiles), list(tokens), vocabulary
        self.batch_size, self.val_fraction, self.seed = batch_size, val_fraction, seed
        self.n_jobs, self.cache, self.num_workers = n_jobs, cache, num_workers
        self.train_set: GraphTokenDataset | None = None
        self.val_set: GraphTokenDataset | None = None
        self.train_smiles: list[str] = []
        self.val_smiles: list[str] = []

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is not None:
            return
        result = featurize_smiles(self.smiles, n_jobs=self.n_jobs, cache=self.cache)
        if result.errors:  # standardised SMILES always featurise; anything else is a bug upstream
            first = next(iter(result.errors.items()))
            raise RuntimeError(f"{len(result.errors)} corpus molecules did not featurise, e.g. {first}")
        ids = [self.vocabulary.encode_tokens(self.tokens[i]) for i in result.index]
        order = np.random.default_rng(self.seed).permutation(len(ids))
        n_val = max(1, int(round(self.val_fraction * len(ids)))) if len(ids) > 1 else 0
        val, train = order[:n_val], order[n_val:]
        self.train_set = GraphTokenDataset(result.graphs.select(train), [ids[i] for i in train])
        self.val_set = GraphTokenDataset(result.graphs.select(val), [ids[i] for i in val])
        self.train_smiles = self.train_set.graphs.smiles
        self.val_smiles = self.val_set.graphs.smiles

    def _loader(self, dataset: GraphTokenDataset, shuffle: bool) -> DataLoader:
        v = self.vocabulary
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=shuffle, num_workers=self.num_workers,
                          collate_fn=partial(collate, bos_id=v.bos_id, pad_id=v.pad_id),
                          persistent_workers=self.num_workers > 0)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
