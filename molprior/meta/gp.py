"""A Gaussian-process task head over learned features: the ``adkf`` learner (ADKF-IFT).

Adaptive deep kernel fitting (Chen et al., "Meta-learning adaptive deep kernel Gaussian
processes for molecular property prediction", ICLR 2023): a task is exact GP regression on
its labels coded ``+1`` (active) and ``-1`` (inactive), over the features a shared network
computes, with a Matérn-5/2 kernel.  The kernel's three hyperparameters (lengthscale, output
scale, noise) are fitted to each support by maximising its marginal likelihood under
log-normal priors (the inner loop); the feature network is meta-learned across tasks by the
query's predictive likelihood (the outer loop), with the hyperparameters' dependence on the
features taken into account by the implicit function theorem.

With only three hyperparameters the theorem's terms are exact and cheap: the 3x3 Hessian of
the inner objective is computed in full, and the mixed second derivative enters as one
vector-Jacobian product (:func:`ift_surrogate`).  The hyperparameters are plain tensors here
(log scale: ``theta = (log lengthscale, log outputscale, log noise)``), which is what lets
the theorem be applied directly; the GP itself is twenty lines of Cholesky algebra.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

#: Prior modes of ADKF-IFT: the lengthscale's is the median pairwise distance of the support's
#: features (the median heuristic), the noise's 0.1; both log-normal with scale 0.25.
NOISE_MODE = 0.1
PRIOR_SCALE = 0.25
JITTER = 1e-5


@dataclass
class GPConfig:
    """The GP head: how hard each support's hyperparameters are fitted, and the outer gradient."""

    fit_steps: int = 50  # L-BFGS iterations on the support's negative log marginal posterior
    ift: bool = True  # outer gradient through the fitted hyperparameters (implicit function theorem)

    def to_dict(self) -> dict:
        return asdict(self)


def matern52(a: torch.Tensor, b: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The scaled Matérn-5/2 kernel matrix between the rows of ``a`` and ``b``."""
    lengthscale, outputscale = theta[0].exp(), theta[1].exp()
    squared = (a.pow(2).sum(-1, keepdim=True) - 2 * a @ b.T + b.pow(2).sum(-1)).clamp_min(1e-12)
    r = math.sqrt(5.0) * squared.sqrt() / lengthscale
    return outputscale * (1 + r + r.pow(2) / 3) * torch.exp(-r)


def median_lengthscale(features: torch.Tensor) -> torch.Tensor:
    """The median heuristic: ``sqrt(median(d^2) / 2)`` over distinct pairs of rows."""
    squared = torch.cdist(features, features).pow(2)
    upper = squared[torch.triu(torch.ones_like(squared, dtype=torch.bool), diagonal=1)]
    positive = upper[upper > 0]
    if positive.numel() == 0:
        return torch.ones((), dtype=features.dtype)
    return torch.sqrt(0.5 * positive.median())


def _log_normal_log_prob(log_value: torch.Tensor, mode: torch.Tensor | float) -> torch.Tensor:
    """Log density of a log-normal with scale :data:`PRIOR_SCALE` whose mode is ``mode``,
    at ``exp(log_value)`` (the density of the value, as gpytorch's priors)."""
    loc = torch.log(torch.as_tensor(mode, dtype=log_value.dtype)) + PRIOR_SCALE ** 2
    return (-log_value - math.log(PRIOR_SCALE * math.sqrt(2 * math.pi))
            - (log_value - loc).pow(2) / (2 * PRIOR_SCALE ** 2))


def _cholesky(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """The Cholesky factor of the support's kernel matrix plus noise; should rounding make it
    indefinite (repeated molecules, float32), the jitter grows tenfold up to three times."""
    eye = torch.eye(len(x), dtype=x.dtype, device=x.device)
    covariance = matern52(x, x, theta) + theta[2].exp() * eye
    jitter = JITTER
    for _ in range(4):
        factor, info = torch.linalg.cholesky_ex(covariance + jitter * eye)
        if int(info) == 0:
            return factor
        jitter *= 10
    raise torch.linalg.LinAlgError(f"the kernel matrix is not positive definite (jitter up to {jitter / 10:g})")


def inner_objective(x: torch.Tensor, y: torch.Tensor, theta: torch.Tensor, lengthscale_mode: torch.Tensor) -> torch.Tensor:
    """The support's negative log marginal likelihood minus the hyperparameters' log prior,
    per support molecule (gpytorch's ``ExactMarginalLogLikelihood`` with priors, negated)."""
    chol = _cholesky(x, theta)
    alpha = torch.cholesky_solve(y.unsqueeze(-1), chol).squeeze(-1)
    nll = 0.5 * (y @ alpha) + torch.log(torch.diagonal(chol)).sum() + 0.5 * len(y) * math.log(2 * math.pi)
    log_prior = _log_normal_log_prob(theta[0], lengthscale_mode) + _log_normal_log_prob(theta[2], NOISE_MODE)
    return (nll - log_prior) / len(y)


def initial_theta(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Starting hyperparameters for a support (the priors' modes, output scale 1) and the
    lengthscale prior's mode."""
    mode = median_lengthscale(x.detach())
    theta = torch.stack([mode.log(), torch.zeros((), dtype=x.dtype), torch.tensor(math.log(NOISE_MODE), dtype=x.dtype)])
    return theta, mode


def fit_theta(x: torch.Tensor, y: torch.Tensor, steps: int = 50) -> tuple[torch.Tensor, torch.Tensor]:
    """Hyperparameters maximising the support's marginal posterior (L-BFGS from
    :func:`initial_theta`; the features are held fixed), and the lengthscale prior's mode."""
    x, y = x.detach(), y.detach()
    theta, mode = initial_theta(x)
    theta = theta.clone().requires_grad_(True)
    if steps > 0:
        optimizer = torch.optim.LBFGS([theta], lr=1.0, max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            optimizer.zero_grad()
            loss = inner_objective(x, y, theta, mode)
            loss.backward()
            return loss

        with torch.enable_grad():
            try:
                optimizer.step(closure)
            except torch.linalg.LinAlgError:  # a trial point too extreme to factorise: keep the start
                theta = initial_theta(x)[0]
    fitted = theta.detach()
    if not torch.isfinite(fitted).all():  # a degenerate support: keep the priors' modes
        fitted = initial_theta(x)[0]
    return fitted, mode


def posterior(x: torch.Tensor, y: torch.Tensor, query: torch.Tensor, theta: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """The GP's predictive mean and variance (noise included) of ``query``'s labels."""
    chol = _cholesky(x, theta)
    cross = matern52(query, x, theta)
    alpha = torch.cholesky_solve(y.unsqueeze(-1), chol).squeeze(-1)
    mean = cross @ alpha
    v = torch.linalg.solve_triangular(chol, cross.T, upper=False)
    variance = (theta[1].exp() - v.pow(2).sum(0)).clamp_min(1e-10) + theta[2].exp()
    return mean, variance


def predictive_nll(x: torch.Tensor, y: torch.Tensor, query: torch.Tensor, query_y: torch.Tensor,
                   theta: torch.Tensor) -> torch.Tensor:
    """Mean negative log predictive density of the query's ``±1`` labels (the outer loss)."""
    mean, variance = posterior(x, y, query, theta)
    return (0.5 * (query_y - mean).pow(2) / variance + 0.5 * variance.log() + 0.5 * math.log(2 * math.pi)).mean()


def ift_surrogate(x: torch.Tensor, y: torch.Tensor, query: torch.Tensor, query_y: torch.Tensor,
                  theta: torch.Tensor, mode: torch.Tensor) -> torch.Tensor:
    """A loss equal to the outer loss at the fitted ``theta`` whose gradient with respect to
    the features is the implicit-function hypergradient:
    ``dL/dphi = dL_out/dphi - (dL_out/dtheta) H^-1 d2L_in/(dtheta dphi)``, with ``H`` the inner
    objective's Hessian in ``theta`` (computed exactly: ``theta`` has three entries)."""
    theta = theta.detach().requires_grad_(True)
    outer = predictive_nll(x, y, query, query_y, theta)
    outer_theta, = torch.autograd.grad(outer, theta, retain_graph=True)
    inner_theta, = torch.autograd.grad(inner_objective(x, y, theta, mode), theta, create_graph=True)
    hessian = torch.stack([torch.autograd.grad(inner_theta[i], theta, retain_graph=True)[0] for i in range(len(theta))])
    hessian = 0.5 * (hessian + hessian.T).detach() + 1e-6 * torch.eye(len(theta), dtype=theta.dtype)
    try:
        v = torch.linalg.solve(hessian, outer_theta.detach())
    except RuntimeError:  # a singular Hessian: no correction for this task
        return outer
    if not torch.isfinite(v).all():
        return outer
    return outer - (v * inner_theta).sum()


def signed(labels: torch.Tensor) -> torch.Tensor:
    """0/1 labels as the GP's ``-1``/``+1`` targets (in the labels' floating dtype)."""
    return 2.0 * (labels if labels.is_floating_point() else labels.float()) - 1.0


def probability_logit(mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """The logit of ``P(label > 0)`` under the predictive Gaussian: what the learner returns as
    its output, so that a sigmoid gives the probability of being active."""
    probability = 0.5 * (1 + torch.erf(mean / torch.sqrt(2 * variance)))
    probability = probability.clamp(1e-6, 1 - 1e-6)
    return torch.log(probability) - torch.log1p(-probability)
