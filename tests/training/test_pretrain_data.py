"""Pretraining batches on real MOSES molecules: each graph paired with its own SELFIES ids,
decoder inputs shifted behind ``<bos>`` and padded, and the seeded validation split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from rdkit import Chem

from molprior.chem.featurize import featurize_smiles
from molprior.chem.tokenizer import SelfiesVocabulary, smiles_to_selfies_tokens
from molprior.training.pretrain_data import GraphTokenDataset, PretrainDataModule, collate

MOSES = Path(__file__).resolve().parents[2] / "data" / "moses" / "moses_train_50k.csv.gz"


@pytest.fixture(scope="module")
def corpus() -> tuple[list[str], list[list[str]], SelfiesVocabulary]:
    """200 MOSES molecules (canonical SMILES, as the corpus reader gives them), their SELFIES
    tokens and the vocabulary of those tokens."""
    smiles = [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in pd.read_csv(MOSES)["smiles"].head(200)]
    tokens = [smiles_to_selfies_tokens(s) for s in smiles]
    return smiles, tokens, SelfiesVocabulary.build(tokens)


def test_a_batch_is_the_graphs_with_decoder_inputs_and_targets(corpus):
    smiles, tokens, vocabulary = corpus
    graphs = featurize_smiles(smiles[:3]).graphs
    ids = [vocabulary.encode(s) for s in graphs.smiles]
    assert [i[-1] for i in ids] == [vocabulary.eos_id] * 3 and len({len(i) for i in ids}) == 3  # three lengths
    graph_batch, inputs, targets = collate(list(GraphTokenDataset(graphs, ids)))
    longest = max(len(i) for i in ids)
    assert inputs.shape == targets.shape == (3, longest) and inputs.dtype == targets.dtype == torch.long
    for row, sequence in enumerate(ids):
        padding = [vocabulary.pad_id] * (longest - len(sequence))
        assert targets[row].tolist() == sequence + padding  # ends with <eos>, then <pad>
        assert inputs[row].tolist() == [vocabulary.bos_id] + sequence[:-1] + padding  # one step behind
    assert graph_batch.num_graphs == 3
    atoms = [Chem.MolFromSmiles(s).GetNumAtoms() for s in graphs.smiles]
    assert torch.bincount(graph_batch.batch).tolist() == atoms  # each row's own molecule


def test_items_pair_each_graph_with_its_own_tokens_and_subsets_keep_their_order(corpus):
    smiles, _, vocabulary = corpus
    graphs = featurize_smiles(smiles[:5]).graphs
    dataset = GraphTokenDataset(graphs, [vocabulary.encode(s) for s in graphs.smiles])
    assert len(dataset) == 5
    graph, ids = dataset[3]
    assert graph.smiles == graphs.smiles[3] and ids.tolist() == vocabulary.encode(graphs.smiles[3])
    subset = dataset.subset([4, 1])
    assert len(subset) == 2 and subset.graphs.smiles == [graphs.smiles[4], graphs.smiles[1]]
    for (graph, ids), position in zip(subset, (4, 1)):
        assert graph.smiles == graphs.smiles[position] and torch.equal(ids, dataset.token_ids[position])
        assert torch.equal(graph.x, dataset[position][0].x)
    with pytest.raises(ValueError, match="one token sequence per graph"):
        GraphTokenDataset(graphs, [vocabulary.encode(s) for s in graphs.smiles[:4]])


def _module(corpus, **options) -> PretrainDataModule:
    smiles, tokens, vocabulary = corpus
    module = PretrainDataModule(smiles, tokens, vocabulary, **options)
    module.setup()
    return module


def test_the_validation_split_is_seeded_and_disjoint(corpus):
    smiles, tokens, vocabulary = corpus
    module = _module(corpus, val_fraction=0.05, seed=0)
    assert len(module.val_set) == 10 and len(module.train_set) == 190  # 5% of 200
    assert sorted(module.train_smiles + module.val_smiles) == sorted(smiles)
    assert not set(module.train_smiles) & set(module.val_smiles)
    assert module.val_smiles == _module(corpus, val_fraction=0.05, seed=0).val_smiles  # run to run
    assert set(module.val_smiles) != set(_module(corpus, val_fraction=0.05, seed=1).val_smiles)
    train_set = module.train_set
    module.setup("fit")  # a second setup (Lightning calls it per stage) keeps the split
    assert module.train_set is train_set
    # every item's tokens are its own molecule's
    own = {s: vocabulary.encode_tokens(t) for s, t in zip(smiles, tokens)}
    for dataset in (module.train_set, module.val_set):
        for graph, ids in dataset:
            assert ids.tolist() == own[graph.smiles]


def test_validation_batches_hold_the_same_sequences_whatever_the_batch_size(corpus):
    small, large = (_module(corpus, batch_size=size, val_fraction=0.1) for size in (3, 64))
    assert small.val_smiles == large.val_smiles

    def sequences(module: PretrainDataModule) -> list[list[int]]:
        rows = []
        for _, inputs, targets in module.val_dataloader():
            for row in targets.tolist():
                rows.append([i for i in row if i != module.vocabulary.pad_id])
        return rows

    batches = list(small.val_dataloader())
    assert [len(b[1]) for b in batches] == [3] * 6 + [2]  # 20 molecules, in batches of 3
    assert sequences(small) == sequences(large)  # in the split's order, unpadded
    expected = [small.vocabulary.encode(s) for s in small.val_smiles]
    assert sequences(small) == expected


def test_training_batches_are_shuffled_and_cover_the_training_set(corpus):
    module = _module(corpus, batch_size=64)
    torch.manual_seed(0)
    first = [t for _, _, targets in module.train_dataloader() for t in targets.tolist()]
    second = [t for _, _, targets in module.train_dataloader() for t in targets.tolist()]
    assert len(first) == len(second) == len(module.train_set) == 190
    strip = module.vocabulary.pad_id

    def unpadded(rows):
        return sorted(tuple(i for i in row if i != strip) for row in rows)

    assert unpadded(first) == unpadded(second) == unpadded(t.tolist() for _, t in module.train_set)
    assert first != second  # another order each epoch


def test_a_single_molecule_is_all_training_and_a_bad_one_is_an_error(corpus):
    smiles, tokens, vocabulary = corpus
    alone = PretrainDataModule(smiles[:1], tokens[:1], vocabulary)
    alone.setup()
    assert len(alone.train_set) == 1 and len(alone.val_set) == 0
    broken = PretrainDataModule(smiles[:3] + ["C1CC"], tokens[:3] + [tokens[0]], vocabulary)
    with pytest.raises(RuntimeError, match="1 corpus molecules did not featurise"):
        broken.setup()
