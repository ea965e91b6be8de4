"""The per-allele body adapter: starts as the shared body, updates the wide layer by a low-rank term."""

import pytest
import torch

from molprior.immunology.body_adapter import LORA_A, LORA_B, adapted_body, adapter_size, init_adapter
from molprior.models.heads import BodyConfig, body_network


@pytest.fixture(scope="module")
def body() -> torch.nn.Sequential:
    torch.manual_seed(0)
    return body_network(1288, BodyConfig(hidden_dim=256, output_dim=64, dropout=0.0)).eval()


def test_a_new_adapter_is_the_shared_body(body):
    adapter = init_adapter(body, rank=8, generator=torch.Generator().manual_seed(1))
    params = adapted_body(body, adapter)
    assert set(params) == {name for name, _ in body.named_parameters()}
    for name, shared in body.named_parameters():
        assert torch.equal(params[name], shared.detach())
    x = torch.randn(5, 1288)
    torch.testing.assert_close(torch.func.functional_call(body, params, (x,)), body(x), rtol=0, atol=0)


def test_the_wide_layer_moves_by_the_low_rank_product_and_the_adapter_is_small(body):
    adapter = init_adapter(body, rank=8, generator=torch.Generator().manual_seed(1))
    adapter[LORA_B] = torch.randn_like(adapter[LORA_B])
    params = adapted_body(body, adapter)
    update = params["1.weight"] - body[1].weight.detach()
    assert torch.linalg.matrix_rank(update) == 8
    torch.testing.assert_close(update, adapter[LORA_B] @ adapter[LORA_A])
    full = sum(p.numel() for p in body.parameters())
    assert adapter_size(adapter) < full / 8  # 124 KiB against 1.3 MiB for the shipped model's body
