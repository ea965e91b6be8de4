import numpy as np
import pytest
import torch

from molprior.meta.finetune import fine_tune


def _recording_loss(weight: torch.Tensor, seen: list):
    def loss(rows):
        seen.append(list(range(5))[rows] if isinstance(rows, slice) else [int(r) for r in rows])
        return (weight ** 2).sum()
    return loss


def test_full_batch_takes_one_step_on_every_row_per_epoch():
    weight = torch.nn.Parameter(torch.tensor([1.0]))
    seen = []
    steps = fine_tune(torch.optim.SGD([weight], lr=0.25), _recording_loss(weight, seen), 5, epochs=3)
    assert steps == 3 and seen == [[0, 1, 2, 3, 4]] * 3
    assert weight.item() == pytest.approx(0.5 ** 3)  # w <- w - 0.25 * 2w, three times


def test_minibatches_follow_the_shuffled_order_and_a_short_last_batch_can_be_skipped():
    weight = torch.nn.Parameter(torch.tensor([1.0]))
    order = np.random.default_rng(0).permutation(5)
    seen = []
    steps = fine_tune(torch.optim.SGD([weight], lr=0.1), _recording_loss(weight, seen), 5, epochs=1, batch_size=2,
                      shuffle=np.random.default_rng(0).permutation, min_batch=2)
    assert steps == 2 and seen == [order[:2].tolist(), order[2:4].tolist()]  # the lone fifth row is skipped
    seen.clear()
    assert fine_tune(torch.optim.SGD([weight], lr=0.1), _recording_loss(weight, seen), 1, epochs=2, batch_size=2,
                     min_batch=2) == 2  # unless it is every row
    assert seen == [[0], [0]]


def test_the_scheduler_steps_with_the_optimiser_and_gradients_are_on_under_no_grad():
    weight = torch.nn.Parameter(torch.tensor([1.0]))
    optimizer = torch.optim.SGD([weight], lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 ** step)
    with torch.no_grad():
        steps = fine_tune(optimizer, _recording_loss(weight, []), 4, epochs=1, batch_size=2, scheduler=scheduler)
    assert steps == 2 and optimizer.param_groups[0]["lr"] == pytest.approx(0.25)
    assert weight.item() == pytest.approx(1.0 * (1 - 2.0) * (1 - 1.0))  # lr 1 then 0.5 on d(w^2)/dw = 2w
