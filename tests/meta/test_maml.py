"""MAML's inner loop, its first- and second-order outer gradients, ANIL and Meta-SGD, on real molecules."""

import numpy as np
import pandas as pd
import pytest
import torch
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.errors import InputError
from molprior.meta.losses import ABOVE, BELOW, EXACT, binary_loss, censored_mse
from molprior.meta.maml import MAML, MAMLConfig
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.heads import HeadConfig, TaskModel


@pytest.fixture(scope="module")
def task(moleculeace_dir):
    frame = pd.read_csv(moleculeace_dir / "CHEMBL4203_Ki.csv")
    labels = (frame["y"] >= frame["y"].median()).astype(np.float32).to_numpy()
    graphs = featurize_smiles(frame["smiles"].tolist(), canonical=False)
    labels = labels[graphs.index]
    rng = np.random.default_rng(0)
    support = np.concatenate([rng.choice(np.flatnonzero(labels == 1), 8, replace=False),
                              rng.choice(np.flatnonzero(labels == 0), 8, replace=False)])
    query = np.setdiff1d(np.arange(len(labels)), support)[:64]

    def batch(idx):
        return Batch.from_data_list([graphs.graphs[int(i)] for i in idx]), torch.from_numpy(labels[idx])

    return batch(support), batch(query)


def _maml(**options) -> MAML:
    torch.manual_seed(0)
    encoder = GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=2))
    return MAML(TaskModel(encoder, HeadConfig(hidden_dim=32)), MAMLConfig(**options))


def test_inner_loop_lowers_the_support_loss(task):
    (support, y), _ = task
    maml = _maml(inner_steps=5, inner_lr=0.01)
    before = binary_loss(maml.model(support), y).item()
    params = maml.adapt(support, y, binary_loss)
    after = binary_loss(maml.predict(params, support), y).item()
    assert after < before
    assert all(p.requires_grad for p in params.values())  # still on the graph for the outer loss


def _outer_grads(maml, task):
    (support, ys), (query, yq) = task
    maml.zero_grad()
    maml.query_loss(support, ys, query, yq, binary_loss).backward()
    return {n: p.grad.clone() for n, p in maml.named_parameters() if p.grad is not None}


def test_first_and_second_order_gradients_differ(task):
    second = _outer_grads(_maml(inner_steps=2, inner_lr=0.1), task)
    first = _outer_grads(_maml(inner_steps=2, inner_lr=0.1, first_order=True), task)
    assert second.keys() == first.keys() and any(k.startswith("model.encoder") for k in second)
    difference = sum((second[k] - first[k]).abs().sum().item() for k in second)
    assert difference > 0


def test_anil_adapts_only_the_head(task):
    (support, y), _ = task
    maml = _maml(anil=True, inner_steps=3, inner_lr=0.1)
    params = maml.adapt(support, y, binary_loss)
    assert set(params) == {name for name, _ in maml.model.head.named_parameters()}
    grads = _outer_grads(maml, task)
    assert any(k.startswith("model.encoder") for k in grads)  # the encoder is meta-learned by the outer loop


def test_meta_sgd_learns_inner_learning_rates(task):
    maml = _maml(learn_inner_lr=True, inner_steps=2, inner_lr=0.05)
    assert len(maml.inner_lrs) == len(list(maml.model.parameters()))
    grads = _outer_grads(maml, task)
    assert any(k.startswith("inner_lrs") and g.abs().sum() > 0 for k, g in grads.items())


def test_adapting_for_inference_gives_detached_weights(task):
    (support, y), (query, _) = task
    maml = _maml().eval()
    with torch.no_grad():
        params = maml.adapt(support, y, binary_loss)
        out = maml.predict(params, query)
    assert not any(p.requires_grad for p in params.values()) and out.shape == (64,)


def test_a_few_meta_steps_lower_the_query_loss(task):
    (support, ys), (query, yq) = task
    maml = _maml(inner_steps=2, inner_lr=0.1, first_order=True)
    optimizer = torch.optim.Adam(maml.parameters(), lr=3e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = maml.query_loss(support, ys, query, yq, binary_loss)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


def test_censored_mse_counts_only_violated_bounds():
    predicted = torch.tensor([0.2, 0.8, 0.2, 0.8, 0.5])
    target = torch.tensor([0.5, 0.5, 0.5, 0.5, 0.3])
    relation = torch.tensor([BELOW, BELOW, ABOVE, ABOVE, EXACT])
    errors = censored_mse(predicted, target, relation) * 5
    # only "< 0.5 predicted 0.8", "> 0.5 predicted 0.2" and the exact one count
    assert errors.item() == pytest.approx(0.3**2 + 0.3**2 + 0.2**2)
    assert censored_mse(predicted, target).item() == pytest.approx(((predicted - target) ** 2).mean().item())


def test_functional_call_leaves_the_model_parameters_untouched(task):
    (support, ys), (query, yq) = task
    maml = _maml(inner_steps=3, inner_lr=0.1)
    before = {n: p.detach().clone() for n, p in maml.named_parameters()}
    params = maml.adapt(support, ys, binary_loss)
    maml.query_loss(support, ys, query, yq, binary_loss).backward()
    assert any(not torch.equal(params[n], before[f"model.{n}"]) for n in params)  # the fast weights moved
    assert all(torch.equal(p.detach(), before[n]) for n, p in maml.named_parameters())  # the model did not


def test_proto_init_sets_the_output_layer_from_prototypes(task):
    (support, ys), (query, _) = task
    maml = _maml(anil=True, proto_init=True, inner_steps=0).eval()
    params = maml.adapt(support, ys, binary_loss)
    hidden = maml.model.head.hidden(maml.model.represent(support))
    p1, p0 = hidden[ys == 1].mean(0), hidden[ys == 0].mean(0)
    q = maml.model.head.hidden(maml.model.represent(query))
    expected = (q - p0).pow(2).sum(-1) - (q - p1).pow(2).sum(-1)
    assert torch.allclose(maml.predict(params, query), expected, rtol=1e-4, atol=1e-3)
    with pytest.raises(ValueError, match="actives and inactives"):
        maml.adapt(support, torch.ones_like(ys), binary_loss)


def _hyper_maml(**options) -> MAML:
    torch.manual_seed(0)
    encoder = GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=2))
    head = HeadConfig(hidden_dim=32, hyper={"latent_dim": 8, "generator_hidden": 32, "support_hidden": 16})
    return MAML(TaskModel(encoder, head), MAMLConfig(**options))


def test_with_a_hypernetwork_head_the_inner_loop_in_the_latent_code_lowers_the_support_loss(task):
    (support, y), _ = task
    maml = _hyper_maml(inner_steps=10, inner_lr=0.5)
    before = binary_loss(maml.model(support), y).item()
    params = maml.adapt(support, y, binary_loss)
    assert set(params) == {"latent"} and params["latent"].shape == (8,)  # the code alone adapts
    assert binary_loss(maml.predict(params, support), y).item() < before
    assert maml.head_only  # the encoder runs once per task


def test_the_outer_loss_reaches_the_generator_the_support_encoder_and_the_encoder(task):
    maml = _hyper_maml(inner_steps=2, inner_lr=0.5, learn_inner_lr=True)
    assert set(maml.inner_lrs) == {"latent"}  # Meta-SGD: one learned rate per latent dimension
    torch.nn.init.normal_(maml.model.head.support_encoder.rho.weight, std=0.1)  # a trained one moves the start
    grads = _outer_grads(maml, task)
    for prefix in ("model.head.generator", "model.head.support_encoder", "model.head.latent", "model.encoder",
                   "inner_lrs"):
        assert any(k.startswith(prefix) and g.abs().sum() > 0 for k, g in grads.items()), prefix


def test_a_hypernetwork_head_does_not_start_from_prototypes():
    with pytest.raises(InputError, match="drop proto_init"):
        _hyper_maml(proto_init=True)
