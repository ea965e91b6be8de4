"""Tests for molprior.models.fixed_blocks: fixed-size blocks make a row's output independent
of how many rows, and which, are computed with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from molprior.models.fixed_blocks import BLOCK_ROWS, fixed_blocks, map_fixed_blocks, rowwise_in_fixed_blocks


@pytest.mark.parametrize("n_rows", [0, 1, 5, BLOCK_ROWS - 1, BLOCK_ROWS, BLOCK_ROWS + 1, 3 * BLOCK_ROWS + 7])
def test_blocks_cover_every_row_once_and_all_have_the_fixed_size(n_rows):
    blocks = list(fixed_blocks(n_rows))
    assert all(len(rows) == BLOCK_ROWS for rows, _ in blocks)
    real = np.concatenate([rows[:n_real] for rows, n_real in blocks]) if blocks else np.zeros(0)
    assert real.tolist() == list(range(n_rows))
    for rows, n_real in blocks:  # the padding repeats the block's last real row
        assert (rows[n_real:] == rows[n_real - 1]).all()


def test_block_size_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        list(fixed_blocks(3, 0))


def test_map_fixed_blocks_drops_the_padding():
    out = map_fixed_blocks(lambda rows: torch.from_numpy(rows * 10), 7, size=3)
    assert out.tolist() == [0, 10, 20, 30, 40, 50, 60]


def _mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 128), torch.nn.ReLU(), torch.nn.Linear(128, 1)).eval()


@torch.inference_mode()
def test_a_rows_output_has_the_same_bits_whatever_its_companions():
    """The property scoring relies on: the same row gives the same bits alone, among a few
    rows, at any position of a large set, or after a shuffle."""
    mlp = _mlp()
    x = torch.randn(1000, 256)
    reference = rowwise_in_fixed_blocks(mlp, x)
    rng = np.random.default_rng(0)
    for n in (1, 2, 3, 5, 9, 13, 127, 129, 500):
        rows = rng.choice(len(x), size=n, replace=False)
        assert torch.equal(rowwise_in_fixed_blocks(mlp, x[rows]), reference[rows]), n
    order = rng.permutation(len(x))
    assert torch.equal(rowwise_in_fixed_blocks(mlp, x[order]), reference[order])


@torch.inference_mode()
def test_the_result_is_the_plain_forward_pass_up_to_float32_rounding():
    mlp = _mlp()
    x = torch.randn(300, 256)
    assert torch.allclose(rowwise_in_fixed_blocks(mlp, x), mlp(x), rtol=0, atol=1e-6)
    assert rowwise_in_fixed_blocks(mlp, x[:0]).shape == mlp(x[:0]).shape


@torch.inference_mode()
def test_thread_count_does_not_change_the_bits():
    mlp = _mlp()
    x = torch.randn(400, 256)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = rowwise_in_fixed_blocks(mlp, x)
        torch.set_num_threads(2)
        two = rowwise_in_fixed_blocks(mlp, x)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(one, two)
