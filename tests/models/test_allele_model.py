"""The allele model's body keeps the heads' input at a fixed scale, and the body adapter starts
as the shared body."""

from __future__ import annotations

import torch

from molprior.models.allele_model import AlleleModelConfig, PeptideFeatures, allele_task_model
from molprior.immunology.body_adapter import LORA_A, LORA_B, adapted_body, adapter_size, init_adapter

CONFIG = AlleleModelConfig(body_hidden=32, body_dim=8, head_hidden=8)


def test_the_body_output_scale_does_not_follow_its_weights_or_input():
    """What saturated the sigmoid in the first runs: an outer step that scaled the body's last
    layer scaled the heads' input with it.  With LayerNorm at both ends it cannot."""
    torch.manual_seed(0)
    model = allele_task_model(40, CONFIG).eval()
    x = torch.randn(16, 40)
    before = model.represent(PeptideFeatures(x))
    with torch.no_grad():
        model.body[4].weight.mul_(50.0)
        model.body[4].bias.mul_(50.0)
    after = model.represent(PeptideFeatures(100.0 * x))
    for rep in (before, after):
        torch.testing.assert_close(rep.mean(dim=1), torch.zeros(16), atol=1e-4, rtol=0)
        torch.testing.assert_close(rep.std(dim=1, unbiased=False), torch.ones(16), atol=1e-2, rtol=0)
    torch.testing.assert_close(after, before, atol=1e-3, rtol=1e-3)  # the same directions, the same scale


def test_a_new_adapter_is_the_shared_body_and_its_update_is_low_rank():
    torch.manual_seed(0)
    model = allele_task_model(40, CONFIG).eval()
    adapter = init_adapter(model.body, rank=3, generator=torch.Generator().manual_seed(0))
    assert adapter[LORA_A].shape == (3, 40) and adapter[LORA_B].shape == (32, 3)
    assert "1.weight" not in adapter and adapter_size(adapter) < sum(p.numel() for p in model.body.parameters())
    x = torch.randn(10, 40)
    params = adapted_body(model.body, adapter)
    torch.testing.assert_close(torch.func.functional_call(model.body, params, (x,)), model.represent(x))
    adapter[LORA_B] = torch.randn(32, 3)
    update = adapted_body(model.body, adapter)["1.weight"] - model.body[1].weight
    assert torch.linalg.matrix_rank(update.detach()) == 3
