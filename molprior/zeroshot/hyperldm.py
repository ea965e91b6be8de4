"""HyperLDM: a conditional diffusion model over a hypernetwork head's latent codes, sampled
with classifier-free guidance (Nava et al. 2023; Ho & Salimans 2022).

The training tasks' codes, standardised, are noised by a DDPM schedule (Ho et al. 2020:
``T`` steps, linear betas); an MLP predicts the noise from the noisy code, the step and the
task's description (its text features through a small encoder).  A tenth of the training
descriptions are replaced by a learned *null* condition, so that the same network also
predicts the unconditional noise; sampling mixes the two,
``eps = eps_null + guidance * (eps_text - eps_null)`` (``guidance`` 1: plain conditional; 0:
unconditional; above 1: further towards the description).  A head is made from the mean of
``samples`` seeded draws, in the codes' own units.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from molprior.zeroshot.batches import train_in_batches


@dataclass
class HyperLDMConfig:
    """The denoiser's width, the schedule, training and sampling."""

    hidden_dim: int = 256
    condition_dim: int = 64
    steps: int = 100  # diffusion steps T
    beta_start: float = 1e-4
    beta_end: float = 0.02
    null_fraction: float = 0.1  # training descriptions replaced by the null condition
    epochs: int = 1600  # 400 gave 0.053 ΔAUPRC on FS-Mol's valid tasks at guidance 8; 1600 gave 0.117
    batch_size: int = 256
    lr: float = 1e-3
    guidance: float = 8.0  # chosen on FS-Mol's valid tasks among 1, 2, 4, 8 (1600 epochs)
    samples: int = 32

    def to_dict(self) -> dict:
        return asdict(self)


def _step_embedding(t: torch.Tensor, width: int = 32) -> torch.Tensor:
    """Sinusoidal embedding of diffusion steps ``t`` (integers)."""
    frequencies = torch.exp(-math.log(10_000.0) * torch.arange(width // 2) / (width // 2))
    angles = t.float().unsqueeze(-1) * frequencies
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class LatentDiffusion(nn.Module):
    """A noise-predicting MLP over standardised latent codes, conditioned on descriptions."""

    def __init__(self, latent_dim: int, text_dim: int, config: HyperLDMConfig = HyperLDMConfig()):
        super().__init__()
        self.config = config
        self.condition = nn.Sequential(nn.Linear(text_dim, config.condition_dim), nn.ReLU(),
                                       nn.Linear(config.condition_dim, config.condition_dim))
        self.null = nn.Parameter(torch.zeros(config.condition_dim))
        self.denoiser = nn.Sequential(nn.Linear(latent_dim + 32 + config.condition_dim, config.hidden_dim), nn.SiLU(),
                                      nn.Linear(config.hidden_dim, config.hidden_dim), nn.SiLU(),
                                      nn.Linear(config.hidden_dim, latent_dim))
        betas = torch.linspace(config.beta_start, config.beta_end, config.steps)
        self.register_buffer("betas", betas)
        self.register_buffer("alpha_bars", torch.cumprod(1 - betas, dim=0))
        self.register_buffer("latent_mean", torch.zeros(latent_dim))
        self.register_buffer("latent_std", torch.ones(latent_dim))

    def noise(self, noisy: torch.Tensor, t: torch.Tensor, condition: torch.Tensor) -> torch.Tensor:
        return self.denoiser(torch.cat([noisy, _step_embedding(t), condition], dim=-1))

    def conditions(self, text: torch.Tensor | None, n: int) -> torch.Tensor:
        """The condition rows: encoded descriptions, or the null condition (``text`` None)."""
        return self.null.expand(n, -1) if text is None else self.condition(text)

    def loss(self, latents: torch.Tensor, text: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """DDPM's noise-prediction loss on standardised ``latents`` with their descriptions, a
        :attr:`~HyperLDMConfig.null_fraction` of them dropped to the null condition."""
        x0 = (latents - self.latent_mean) / self.latent_std
        n = len(x0)
        t = torch.randint(0, self.config.steps, (n,), generator=generator)
        eps = torch.randn(x0.shape, generator=generator)
        a = self.alpha_bars[t].unsqueeze(-1)
        noisy = a.sqrt() * x0 + (1 - a).sqrt() * eps
        dropped = torch.rand(n, generator=generator) < self.config.null_fraction
        condition = torch.where(dropped.unsqueeze(-1), self.null.expand(n, -1), self.condition(text))
        return ((self.noise(noisy, t, condition) - eps) ** 2).mean()

    @torch.no_grad()
    def sample(self, text: torch.Tensor | None, samples: int, guidance: float, seed: int = 0) -> torch.Tensor:
        """``samples`` codes (in the codes' units) for one description (``text``: one row; None:
        unconditional), by DDPM's ancestral sampler with classifier-free ``guidance``."""
        generator = torch.Generator().manual_seed(seed)
        dim = self.latent_mean.numel()
        x = torch.randn((samples, dim), generator=generator)
        null = self.conditions(None, samples)
        condition = null if text is None else self.conditions(text.reshape(1, -1), 1).expand(samples, -1)
        for step in reversed(range(self.config.steps)):
            t = torch.full((samples,), step, dtype=torch.long)
            eps = self.noise(x, t, null)
            if text is not None:
                eps = eps + guidance * (self.noise(x, t, condition) - eps)
            beta, a_bar = self.betas[step], self.alpha_bars[step]
            x = (x - beta / (1 - a_bar).sqrt() * eps) / (1 - beta).sqrt()
            if step:
                x = x + beta.sqrt() * torch.randn(x.shape, generator=generator)
        return x * self.latent_std + self.latent_mean


def train_hyperldm(model: LatentDiffusion, text: torch.Tensor, latents: torch.Tensor, seed: int = 0) -> list[float]:
    """Fit the codes' standardisation and train ``model`` on ``(text[i], latents[i])``;
    returns the mean loss per epoch (seeded: the same run, the same model)."""
    config = model.config
    model.latent_mean.copy_(latents.mean(0))
    model.latent_std.copy_(latents.std(0).clamp(min=1e-4))
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(seed)
    return train_in_batches(model, optimizer, len(latents), config.epochs, config.batch_size, generator,
                            lambda rows: model.loss(latents[rows], text[rows], generator))
