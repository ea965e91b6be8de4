"""The one training loop of the description models: epochs of seeded shuffled batches."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


def train_in_batches(model: nn.Module, optimizer: torch.optim.Optimizer, n: int, epochs: int, batch_size: int,
                     generator: torch.Generator, batch_loss: Callable[[torch.Tensor], torch.Tensor],
                     min_batch: int = 1) -> list[float]:
    """Train ``model`` for ``epochs`` passes over ``n`` rows in shuffled batches (order from
    ``generator``; a last batch under ``min_batch`` rows is skipped); ``batch_loss(rows)`` is
    a batch's loss.  Returns the mean loss per epoch; the model is left in eval mode."""
    history = []
    model.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=generator)
        losses = []
        for start in range(0, n, batch_size):
            rows = order[start:start + batch_size]
            if len(rows) < min_batch:
                continue
            loss = batch_loss(rows)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        history.append(sum(losses) / max(len(losses), 1))
    model.eval()
    return history
