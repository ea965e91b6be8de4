"""The GP head of the adkf learner: exact GP algebra, per-support fitting, the IFT hypergradient."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from molprior.meta import gp


def _task(seed: int = 0, n: int = 24, m: int = 40, dim: int = 6):
    generator = torch.Generator().manual_seed(seed)
    w = torch.randn(dim, generator=generator, dtype=torch.float64)
    x = torch.randn(n + m, dim, generator=generator, dtype=torch.float64)
    labels = (x @ w + 0.3 * torch.randn(n + m, generator=generator, dtype=torch.float64) > 0).double()
    return x[:n], gp.signed(labels[:n]), x[n:], gp.signed(labels[n:])


def test_posterior_matches_scikit_learns_gp():
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    x, y, query, _ = _task()
    theta = torch.tensor([math.log(1.7), math.log(0.8), math.log(0.05)], dtype=torch.float64)
    mean, variance = gp.posterior(x, y, query, theta)
    kernel = ConstantKernel(0.8, "fixed") * Matern(1.7, "fixed", nu=2.5) + WhiteKernel(0.05 + gp.JITTER, "fixed")
    reference = GaussianProcessRegressor(kernel, optimizer=None, normalize_y=False).fit(x.numpy(), y.numpy())
    ref_mean, ref_std = reference.predict(query.numpy(), return_std=True)
    np.testing.assert_allclose(mean.numpy(), ref_mean, rtol=1e-6, atol=1e-8)
    # sklearn's white noise adds its jitter to the test points too; ours adds the noise only
    np.testing.assert_allclose(variance.numpy(), ref_std ** 2 - gp.JITTER, rtol=1e-6, atol=1e-8)


def test_fitting_raises_the_support_marginal_posterior():
    x, y, _, _ = _task(1)
    start, mode = gp.initial_theta(x)
    fitted, _ = gp.fit_theta(x, y, steps=50)
    assert gp.inner_objective(x, y, fitted, mode) < gp.inner_objective(x, y, start, mode) - 1e-3
    gradient = torch.func.grad(lambda t: gp.inner_objective(x, y, t, mode))(fitted)
    assert gradient.abs().max() < 1e-4  # a stationary point: what the implicit function theorem needs


def test_ift_surrogate_gives_the_total_derivative_through_the_fitted_hyperparameters():
    """d/ds of the outer loss with the hyperparameters re-fitted at every s (finite differences)
    equals the surrogate's autograd gradient; leaving out the correction gives a different one."""
    x, y, query, query_y = _task(2)
    direction = torch.randn_like(x, generator=torch.Generator().manual_seed(5))

    def refitted_outer(s: float) -> float:
        xs = x + s * direction
        theta, _ = gp.fit_theta(xs, y, steps=200)
        return float(gp.predictive_nll(xs, y, query, query_y, theta))

    h = 1e-4
    numeric = (refitted_outer(h) - refitted_outer(-h)) / (2 * h)
    s = torch.zeros((), dtype=torch.float64, requires_grad=True)
    xs = x + s * direction
    theta, mode = gp.fit_theta(xs, y, steps=200)
    mode = gp.median_lengthscale(xs)  # the prior's mode moves with the features too
    surrogate = gp.ift_surrogate(xs, y, query, query_y, theta, mode)
    ift, = torch.autograd.grad(surrogate, s)
    s2 = torch.zeros((), dtype=torch.float64, requires_grad=True)
    plain, = torch.autograd.grad(gp.predictive_nll(x + s2 * direction, y, query, query_y, theta), s2)
    assert float(ift) == pytest.approx(numeric, rel=2e-3, abs=1e-6)
    assert abs(float(plain) - numeric) > 10 * abs(float(ift) - numeric)


def test_probability_logit_is_the_probability_of_a_positive_label():
    logit = gp.probability_logit(torch.tensor([0.0, 1.0, -2.0]), torch.tensor([1.0, 1.0, 4.0]))
    expected = torch.tensor([0.5, 0.8413447, 0.1586553])
    torch.testing.assert_close(torch.sigmoid(logit), expected, atol=1e-6, rtol=0)


def test_a_degenerate_support_keeps_the_priors_modes():
    x = torch.zeros(4, 3, dtype=torch.float64)
    theta, _ = gp.fit_theta(x, torch.tensor([1.0, -1.0, 1.0, -1.0], dtype=torch.float64), steps=20)
    assert torch.isfinite(theta).all()
