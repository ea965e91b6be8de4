"""The hypernetwork head: a generated head is an ordinary MLP head with those weights; the
support encoder's amortised start, on real molecules' representations."""

import numpy as np
import pandas as pd
import pytest
import torch

from molprior.meta.batches import MoleculeBank
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, MLPHead, TaskModel
from molprior.models.hyper_head import HyperConfig, HyperHead, SupportEncoder

SMALL = {"latent_dim": 6, "generator_hidden": 16, "support_hidden": 8}


@pytest.fixture(scope="module")
def molecules(moleculeace_dir):
    frame = pd.read_csv(moleculeace_dir / "CHEMBL4203_Ki.csv").head(40)
    bank, errors = MoleculeBank.build(frame["smiles"].tolist(), fingerprint_bits=2048)
    assert not errors
    labels = (frame["y"] >= frame["y"].median()).to_numpy(np.float32)
    return bank, torch.from_numpy(labels)


def _model(hidden_dim: int = 24) -> TaskModel:
    torch.manual_seed(0)
    return TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=2)),
                     HeadConfig(hidden_dim=hidden_dim, fingerprint_dim=2048, hyper=SMALL))


def test_a_head_config_with_hyper_makes_a_hypernetwork_head():
    config = HeadConfig(hyper={"latent_dim": 6})
    assert config.hyper == HyperConfig(latent_dim=6)
    assert isinstance(TaskModel(None, config, input_dim=10).head, HyperHead)
    assert isinstance(TaskModel(None, HeadConfig(), input_dim=10).head, MLPHead)


def test_the_generated_head_equals_an_ordinary_head_with_those_weights(molecules):
    bank, _ = molecules
    model = _model().eval()
    representation = model.represent(bank.batch(np.arange(len(bank))))
    head = model.head
    for latent in (head.latent.detach(), torch.randn(SMALL["latent_dim"])):
        ordinary = MLPHead(representation.size(1), head.feature_dim)
        ordinary.load_state_dict(head.mlp_state(latent))
        with torch.no_grad():
            head.latent.copy_(latent)
        weight, bias = head.readout()
        features = head.hidden(representation)
        # nn.Linear's fused multiply-add against a product then a sum: rounding may differ in the last bits
        torch.testing.assert_close(head(representation), ordinary(representation), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(head(representation), features @ weight + bias, rtol=0, atol=0)


def test_a_head_without_a_trunk_reads_features_and_is_not_an_mlp_head():
    head = HyperHead(12, 0, HyperConfig(**SMALL))
    features = torch.rand(5, 12)
    weight, bias = head.readout()
    torch.testing.assert_close(head(features), features @ weight + bias)
    with pytest.raises(ValueError, match="not an MLP head"):
        head.mlp_state()


def test_the_amortised_start_is_the_meta_learned_code_until_the_support_encoder_learns(molecules):
    bank, labels = molecules
    model = _model()
    representation = model.represent(bank.batch(np.arange(len(bank)))).detach()
    start = model.head.amortised_latent(representation, labels)
    torch.testing.assert_close(start, model.head.latent)  # its last layer starts at zero
    torch.nn.init.normal_(model.head.support_encoder.rho.weight)
    start = model.head.amortised_latent(representation, labels)
    assert not torch.allclose(start, model.head.latent)
    # a set function: the support's order does not matter
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.head.amortised_latent(representation[order], labels[order]), start)


def test_each_class_weighs_half_of_the_support_encoding():
    torch.manual_seed(0)
    encoder = SupportEncoder(4, 3, 8)
    torch.nn.init.normal_(encoder.rho.weight)
    features = torch.rand(4, 4)
    labels = torch.tensor([1.0, 0.0, 0.0, 0.0])
    # three copies of the same inactive weigh what one does: the classes are balanced
    repeated = torch.cat([features[:2], features[1:2], features[1:2]])
    torch.testing.assert_close(encoder(repeated, labels), encoder(features[:2], labels[:2]))
