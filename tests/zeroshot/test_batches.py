"""The description models' training loop: seeded batches, a short last batch skipped, eval mode after."""

import torch
from torch import nn

from molprior.zeroshot.batches import train_in_batches


def _run(seed: int, min_batch: int = 1):
    torch.manual_seed(0)
    model = nn.Linear(3, 1)
    x, y = torch.arange(21.0).reshape(7, 3) / 20, torch.linspace(0, 1, 7).unsqueeze(-1)
    seen = []

    def loss(rows):
        seen.append(rows.tolist())
        return ((model(x[rows]) - y[rows]) ** 2).mean()

    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    history = train_in_batches(model, optimizer, 7, 30, 3, torch.Generator().manual_seed(seed), loss, min_batch)
    return model, history, seen


def test_the_same_seed_gives_the_same_batches_and_losses():
    model, history, seen = _run(0)
    again, history_again, seen_again = _run(0)
    assert seen == seen_again and history == history_again
    assert seen != _run(1)[2]
    assert not model.training  # left in eval mode
    assert history[-1] < history[0] and len(history) == 30


def test_a_last_batch_under_the_minimum_is_skipped():
    _, _, seen = _run(0, min_batch=2)
    assert {len(rows) for rows in seen} == {3}  # 7 rows in batches of 3: the last one (1 row) is skipped
    _, _, seen = _run(0)
    assert {len(rows) for rows in seen} == {3, 1}
