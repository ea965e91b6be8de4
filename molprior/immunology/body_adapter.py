"""A per-allele adapter of the allele model's shared body: low-rank on the wide input layer.

An allele with many measurements learns more than a head can express over a body shared by
all alleles: in the benchmark's cross-validation, fine-tuning the body with the head beats
the head alone (``molprior benchmark mhc``).  A fine-tuned copy of the body per allele
would cost 1.3 MiB each, so the adapter keeps the input layer's weight shared and learns a low-rank
update ``W + B A`` (LoRA, Hu et al. 2022) beside its bias, the LayerNorms and the small
projection layer, which are learned in full.

The adapter is a dict of tensors in the body's own parameter names, except ``LORA_A`` and
``LORA_B`` (the factors of the input layer's update); :func:`adapted_body` turns it into
parameters for ``torch.func.functional_call`` on the body.
"""

from __future__ import annotations

import torch
from torch import nn

INPUT_LAYER = "1"  # the body's Linear(input_dim, body_hidden) (after the input LayerNorm)
LORA_A = f"{INPUT_LAYER}.lora_a"
LORA_B = f"{INPUT_LAYER}.lora_b"


def init_adapter(body: nn.Sequential, rank: int, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """An adapter that starts as the shared body (``B = 0``); ``A`` random, scaled by fan-in."""
    adapter = {name: p.detach().clone() for name, p in body.named_parameters() if name != f"{INPUT_LAYER}.weight"}
    weight = body.get_submodule(INPUT_LAYER).weight
    adapter[LORA_A] = torch.randn(rank, weight.shape[1], generator=generator) / weight.shape[1] ** 0.5
    adapter[LORA_B] = torch.zeros(weight.shape[0], rank)
    return adapter


def adapted_body(body: nn.Sequential, adapter: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Parameters of the body under ``adapter`` (the input layer's weight materialised)."""
    params = {name: value for name, value in adapter.items() if name not in (LORA_A, LORA_B)}
    shared = body.get_submodule(INPUT_LAYER).weight.detach()  # never trained through an adapter
    params[f"{INPUT_LAYER}.weight"] = shared + adapter[LORA_B] @ adapter[LORA_A]
    return params


def adapter_size(adapter: dict[str, torch.Tensor]) -> int:
    """Number of values an adapter stores."""
    return sum(t.numel() for t in adapter.values())
