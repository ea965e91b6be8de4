"""The one fine-tuning loop: plain gradient steps on a task's rows, full batch or in shuffled
minibatches (the few-shot learner's ``finetune`` rule, an allele's head and body adapter, the
regression benchmark's fine-tuned GNN all train with it)."""

from __future__ import annotations

from typing import Any, Callable

import torch


def fine_tune(optimizer: torch.optim.Optimizer, loss: Callable[[Any], torch.Tensor], n_rows: int, epochs: int,
              batch_size: int | None = None, shuffle: Callable[[int], Any] | None = None,
              scheduler: torch.optim.lr_scheduler.LRScheduler | None = None, min_batch: int = 1) -> int:
    """Minimise ``loss(rows)`` with ``optimizer`` over ``epochs`` passes of ``n_rows`` rows.

    With ``batch_size=None`` every pass is one step on all rows (``rows`` is ``slice(None)``);
    else the rows, in the order ``shuffle(n_rows)`` gives (an index array or tensor; ``None``:
    in order), are cut into minibatches of ``batch_size``.  A minibatch of fewer than
    ``min_batch`` rows is skipped unless it holds every row.  ``scheduler`` steps after every
    optimiser step.  Gradients are on whatever the caller's mode.  Returns the steps taken."""
    steps = 0
    with torch.enable_grad():
        for _ in range(epochs):
            if batch_size is None:
                batches = [slice(None)]
            else:
                order = shuffle(n_rows) if shuffle is not None else torch.arange(n_rows)
                batches = [order[start:start + batch_size] for start in range(0, n_rows, batch_size)]
            for rows in batches:
                if batch_size is not None and len(rows) < min(min_batch, n_rows):
                    continue
                optimizer.zero_grad()
                loss(rows).backward()
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                steps += 1
    return steps
