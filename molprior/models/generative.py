"""The pretraining model: a variational autoencoder from molecular graphs to SELFIES.

The graph encoder (:class:`~molprior.models.encoder.GraphEncoder`) maps a molecule to the
mean and log-variance of a latent Gaussian; a GRU decoder writes SELFIES tokens one at a
time conditioned on the latent code (Gómez-Bombarelli et al. 2018; SELFIES, Krenn et al.
2020, so that every sampled token string decodes to a valid molecule).  After pretraining
the encoder is taken out and becomes the prior of the downstream stages.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from molprior.chem.tokenizer import SelfiesVocabulary
from molprior.models.encoder import EncoderConfig, GraphEncoder


@dataclass
class DecoderConfig:
    """Latent size and the GRU decoder's shape."""

    latent_dim: int = 64
    hidden_dim: int = 256
    embedding_dim: int = 64
    num_layers: int = 1
    dropout: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


class SelfiesDecoder(nn.Module):
    """Autoregressive GRU over SELFIES token ids, conditioned on a latent code."""

    def __init__(self, vocab_size: int, config: DecoderConfig):
        super().__init__()
        self.config = config
        self.embedding = nn.Embedding(vocab_size, config.embedding_dim, padding_idx=0)
        self.latent_to_hidden = nn.Linear(config.latent_dim, config.hidden_dim * config.num_layers)
        self.gru = nn.GRU(config.embedding_dim + config.latent_dim, config.hidden_dim, config.num_layers,
                          batch_first=True, dropout=config.dropout if config.num_layers > 1 else 0.0)
        self.output = nn.Linear(config.hidden_dim, vocab_size)

    def initial_state(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(self.latent_to_hidden(z))
        return h.view(z.size(0), self.config.num_layers, self.config.hidden_dim).transpose(0, 1).contiguous()

    def forward(self, z: torch.Tensor, inputs: torch.Tensor) -> torch.Tensor:
        """Logits for every position of ``inputs`` (teacher forcing), batch x length x vocab."""
        embedded = self.embedding(inputs)
        conditioned = torch.cat([embedded, z.unsqueeze(1).expand(-1, inputs.size(1), -1)], dim=-1)
        out, _ = self.gru(conditioned, self.initial_state(z))
        return self.output(out)

    @torch.no_grad()
    def generate(self, z: torch.Tensor, max_length: int, bos_id: int, eos_id: int,
                 temperature: float = 1.0, greedy: bool = False, generator: torch.Generator | None = None) -> torch.Tensor:
        """Token ids (batch x max_length), each row ending at its first ``eos_id``."""
        batch = z.size(0)
        state = self.initial_state(z)
        token = torch.full((batch, 1), bos_id, dtype=torch.long, device=z.device)
        out = torch.full((batch, max_length), eos_id, dtype=torch.long, device=z.device)
        finished = torch.zeros(batch, dtype=torch.bool, device=z.device)
        for step in range(max_length):
            step_input = torch.cat([self.embedding(token), z.unsqueeze(1)], dim=-1)
            hidden, state = self.gru(step_input, state)
            logits = self.output(hidden[:, -1])
            if greedy:
                token = logits.argmax(-1, keepdim=True)
            else:
                probs = torch.softmax(logits / temperature, dim=-1)
                token = torch.multinomial(probs, 1, generator=generator)
            token = torch.where(finished.unsqueeze(1), torch.full_like(token, eos_id), token)
            out[:, step] = token.squeeze(1)
            finished |= token.squeeze(1) == eos_id
            if finished.all():
                break
        return out


class MoleculeVAE(nn.Module):
    """Graph encoder -> latent Gaussian -> SELFIES decoder."""

    def __init__(self, vocab_size: int, encoder: EncoderConfig = EncoderConfig(),
                 decoder: DecoderConfig = DecoderConfig()):
        super().__init__()
        self.vocab_size = vocab_size
        self.encoder = GraphEncoder(encoder)
        self.to_mean = nn.Linear(encoder.output_dim, decoder.latent_dim)
        self.to_logvar = nn.Linear(encoder.output_dim, decoder.latent_dim)
        self.decoder = SelfiesDecoder(vocab_size, decoder)

    @property
    def latent_dim(self) -> int:
        return self.decoder.config.latent_dim

    def encode(self, data) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the latent code of each molecule."""
        embedding = self.encoder.embed(data)
        return self.to_mean(embedding), self.to_logvar(embedding).clamp(-10.0, 10.0)

    def forward(self, data, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(logits, mean, logvar)`` with a reparameterised latent sample (the mean in eval mode)."""
        mean, logvar = self.encode(data)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if self.training else mean
        return self.decoder(z, inputs), mean, logvar


@torch.no_grad()
def sample_smiles(model: MoleculeVAE, vocabulary: SelfiesVocabulary, n: int, temperature: float = 1.0,
                  seed: int | None = None, batch_size: int = 1000, device: torch.device | str = "cpu") -> list[str]:
    """``n`` molecules decoded from latent codes drawn from the prior (canonical SMILES; ""
    where decoding gave nothing); ``model`` must be on ``device``."""
    generator = torch.Generator(device=device)
    if seed is not None:
        generator.manual_seed(seed)
    out: list[str] = []
    for start in range(0, n, batch_size):
        z = torch.randn(min(batch_size, n - start), model.latent_dim, generator=generator, device=device)
        ids = model.decoder.generate(z, vocabulary.max_length, vocabulary.bos_id, vocabulary.eos_id,
                                     temperature, generator=generator)
        out += [vocabulary.decode(row) for row in ids.cpu().tolist()]
    return out
