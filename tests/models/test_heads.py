"""The one task model: a graph encoder (with or without fingerprints) or precomputed features,
an optional body, a head."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molprior.errors import InputError
from molprior.meta.batches import MoleculeBank
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import BodyConfig, HeadConfig, TaskModel

SMILES = ["CCO", "CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"]


def test_a_graph_model_reads_embeddings_and_fingerprints():
    torch.manual_seed(0)
    bank, _ = MoleculeBank.build(SMILES, fingerprint_bits=2048)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1)), HeadConfig(8, fingerprint_dim=2048))
    batch = bank.batch(np.arange(3))
    assert model.input_dim == 16 + 2048 and model.body is None
    assert model.represent(batch).shape == (3, 16 + 2048) and model(batch).shape == (3,)
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"encoder", "head"}
    bare, _ = MoleculeBank.build(SMILES)
    with pytest.raises(InputError, match="2048-bit fingerprints"):
        model(bare.batch(np.arange(3)))


def test_a_feature_model_with_a_body_reads_tensors_or_batches_of_them():
    torch.manual_seed(0)
    model = TaskModel(None, HeadConfig(8), body=BodyConfig(hidden_dim=32, output_dim=12, dropout=0.0),
                      input_dim=40).eval()
    x = torch.randn(5, 40)

    class Features:  # any batch that carries its tensor as ``x``
        def __init__(self, x):
            self.x = x

    assert model.represent(x).shape == (5, 12) and torch.equal(model(x), model(Features(x)))
    assert {n.split(".")[0] for n, _ in model.named_parameters()} == {"body", "head"}
    torch.testing.assert_close(model.represent(x).mean(dim=1), torch.zeros(5), atol=1e-5, rtol=0)  # LayerNorm last


def test_a_model_needs_exactly_one_input_and_fingerprints_need_an_encoder():
    encoder = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1))
    with pytest.raises(ValueError, match="not both and not neither"):
        TaskModel(encoder, HeadConfig(8), input_dim=40)
    with pytest.raises(ValueError, match="not both and not neither"):
        TaskModel(None, HeadConfig(8))
    with pytest.raises(ValueError, match="beside a graph encoder"):
        TaskModel(None, HeadConfig(8, fingerprint_dim=2048), input_dim=40)
