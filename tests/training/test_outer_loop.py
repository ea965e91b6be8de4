"""The outer loop every meta-training module shares, on a small module whose episodes are
linear regressions: one clipped outer step per batch of episodes on their mean loss, the
epoch told to the episode stream, validation averaged per task then over tasks, the history
(the untrained start first) carried in checkpoints and on through a resumed run, and the
learning rate decayed on the selection metric."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from molprior.training.outer_loop import HISTORY_KEY, OuterLoopModule
from molprior.training.trainer import TrainerConfig, build_trainer

WEIGHTS = torch.tensor([[1.5], [-2.0]])


def _episode(seed: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(int(np.random.default_rng(seed).integers(2**31)))
    x = torch.randn(8, 2, generator=generator)
    return x, x @ WEIGHTS


class Episodes(Dataset):
    """``length`` regression episodes; item ``i`` of epoch ``e`` drawn from ``(e, i)``, each draw noted."""

    def __init__(self, length: int):
        self.length, self.epoch, self.drawn = length, 0, []

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, i: int):
        self.drawn.append((self.epoch, i))
        return _episode([self.epoch, i])


#: Fixed validation episodes: two of task "a", one of task "b".
VALIDATION = [("a", _episode([100, 0])), ("a", _episode([100, 1])), ("b", _episode([100, 2]))]


class Regression(OuterLoopModule):
    """A linear model meta-trained on :class:`Episodes` (no inner loop: the query loss is the
    episode's loss); validation records ``score`` (minus the episode's error) and ``constant``."""

    selection_metric = "val_score"

    def __init__(self, lr: float = 0.05, clip: float = 0.0, decay: bool = False):
        super().__init__()
        torch.manual_seed(0)
        self.layer = torch.nn.Linear(2, 1, bias=False)
        self.lr, self.outer_gradient_clip, self.decay = lr, clip, decay

    def episode_loss(self, episode) -> torch.Tensor:
        x, y = episode
        return torch.nn.functional.mse_loss(self.layer(x), y)

    def validation_step(self, item, batch_idx: int) -> None:
        task, (x, y) = item
        self.record_validation(task, score=-float(self.episode_loss((x, y))), constant=0.5)

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.parameters(), lr=self.lr)
        if not self.decay:
            return optimizer
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler}}


def _fit(module: Regression, out, epochs: int, episodes: Episodes | None = None, resume=None) -> Episodes:
    episodes = episodes or Episodes(4)
    trainer = build_trainer(TrainerConfig(max_epochs=epochs, patience=10, gradient_clip_val=None,
                                          checkpoint_every_n_steps=0), out, progress_bar=False,
                            monitor=module.selection_metric, mode="max", sanity_val_steps=-1)
    trainer.fit(module, DataLoader(episodes, batch_size=2, collate_fn=list),
                DataLoader(VALIDATION, batch_size=None, collate_fn=lambda item: item),
                ckpt_path=str(resume) if resume else None)
    return episodes


def _expected_score(module: Regression) -> float:
    """``val_score`` by hand: each task's mean over its episodes, then the mean over tasks."""
    with torch.no_grad():
        scores = {task: [] for task, _ in VALIDATION}
        for task, episode in VALIDATION:
            scores[task].append(-float(module.episode_loss(episode)))
    return float(np.mean([np.mean(v) for v in scores.values()]))


def test_each_task_weighs_the_same_and_a_metric_an_episode_cannot_have_is_left_out():
    module = Regression()
    module.record_validation("a", roc_auc=0.6, delta_auprc=0.1)
    module.record_validation("a", roc_auc=0.8, delta_auprc=math.nan)  # one class only: no ΔAUPRC
    module.record_validation("b", roc_auc=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # task b has no ΔAUPRC at all
        metrics = module.validation_metrics()
    assert metrics == {"val_roc_auc": pytest.approx(0.8), "val_delta_auprc": pytest.approx(0.1)}  # not 0.767
    assert module.validation_metrics() == {}  # the recorded episodes are forgotten


@pytest.mark.parametrize("clip", [0.0, 0.01])
def test_an_outer_step_follows_the_mean_loss_of_its_episodes_clipped(tmp_path, clip):
    module = Regression(lr=1.0, clip=clip)
    start = module.layer.weight.detach().clone()
    episodes = [_episode([0, 0]), _episode([0, 1])]
    loss = torch.stack([module.episode_loss(e) for e in episodes]).mean()
    gradient, = torch.autograd.grad(loss, module.layer.weight)
    assert gradient.norm() > 0.1
    _fit(module, tmp_path, epochs=1, episodes=Episodes(2))  # one step: both episodes in one batch
    assert module.global_step == 1
    step = module.layer.weight.detach() - start
    if clip:
        torch.testing.assert_close(step, -gradient * clip / gradient.norm(), rtol=1e-4, atol=1e-6)
    else:
        torch.testing.assert_close(step, -gradient, rtol=1e-5, atol=1e-6)


def test_training_records_history_from_the_untrained_start_and_tells_each_epoch_to_the_episodes(tmp_path):
    module = Regression()
    untrained = _expected_score(module)
    episodes = _fit(module, tmp_path, epochs=3)
    assert episodes.drawn == [(e, i) for e in range(3) for i in range(4)]  # each epoch's own draws
    history = module.history
    assert [(h["epoch"], h["step"]) for h in history] == [(-1, 0), (0, 2), (1, 4), (2, 6)]
    assert history[0]["val_score"] == pytest.approx(untrained) and "train_loss" not in history[0]
    assert history[-1]["val_score"] == pytest.approx(_expected_score(module))  # after the last step
    assert history[-1]["val_score"] > history[0]["val_score"]  # it learned
    checkpoint = torch.load(tmp_path / "checkpoints" / "last.ckpt", weights_only=False)
    assert checkpoint[HISTORY_KEY] == history


def test_each_epochs_history_holds_that_epochs_training_loss(tmp_path):
    losses: dict[int, list[float]] = {}

    class Noted(Regression):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            losses.setdefault(self.current_epoch, []).append(float(loss))
            return loss

    module = Noted()
    _fit(module, tmp_path, epochs=3)
    assert [h.get("train_loss") for h in module.history[1:]] == pytest.approx([np.mean(losses[e]) for e in range(3)])


def test_a_resumed_run_carries_its_history_on(tmp_path):
    first = Regression()
    _fit(first, tmp_path, epochs=2)
    resumed = Regression()  # as a new process would build it
    episodes = _fit(resumed, tmp_path, epochs=4, resume=tmp_path / "checkpoints" / "last.ckpt")
    assert [h["epoch"] for h in resumed.history] == [-1, 0, 1, 2, 3]  # one untrained start, the first run's
    assert resumed.history[:3] == first.history
    assert episodes.drawn == [(e, i) for e in (2, 3) for i in range(4)]  # the stream carries on at epoch 2
    uninterrupted = Regression()
    _fit(uninterrupted, tmp_path / "whole", epochs=4)
    torch.testing.assert_close(resumed.layer.weight, uninterrupted.layer.weight)
    assert [h["val_score"] for h in resumed.history] == pytest.approx([h["val_score"] for h in uninterrupted.history])


def test_the_learning_rate_decays_on_the_selection_metric(tmp_path):
    """``score`` improves every epoch and ``constant`` never does: with patience 0 the rate
    halves after each validation without a better ``val_score`` only."""
    improving = Regression(decay=True)
    _fit(improving, tmp_path / "improving", epochs=3)
    assert improving.optimizers().param_groups[0]["lr"] == pytest.approx(0.05)
    assert [h["val_score"] for h in improving.history] == sorted(h["val_score"] for h in improving.history)

    class OnConstant(Regression):
        selection_metric = "val_constant"

    flat = OnConstant(decay=True)
    _fit(flat, tmp_path / "flat", epochs=3)
    assert flat.optimizers().param_groups[0]["lr"] == pytest.approx(0.05 / 4)  # epochs 1 and 2 no better
