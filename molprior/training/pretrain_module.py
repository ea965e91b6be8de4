"""The LightningModule that pretrains the molecular VAE.

Loss, per molecule: the SELFIES reconstruction's cross-entropy summed over its tokens plus
``beta`` times the KL divergence to the standard normal prior.  Two standard guards against
posterior collapse (a decoder that ignores the latent code, leaving the encoder untrained):
``beta`` is warmed up linearly over the first steps (KL annealing), and a fraction
``word_dropout`` of the decoder's input tokens are blanked during training (Bowman et al.
2016), so the decoder has to rely on the latent code.  Each validation epoch logs the
validation loss, the reconstruction accuracy (greedy decoding from the latent mean equals
the molecule's canonical SMILES) on held-out molecules, and the MOSES validity,
uniqueness, novelty and internal diversity of molecules sampled from the prior.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, asdict

import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from molprior.chem.tokenizer import SPECIAL_TOKENS, SelfiesVocabulary
from molprior.errors import InputError
from molprior.metrics.generation import generation_metrics
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE, sample_smiles
from molprior.training.outer_loop import HISTORY_KEY  # where a checkpoint keeps the run's per-epoch history


@dataclass
class OptimConfig:
    """Optimisation and monitoring settings of pretraining."""

    learning_rate: float = 1e-3
    beta: float = 0.1
    kl_warmup_steps: int = 2000
    word_dropout: float = 0.25
    sample_size: int = 1000
    reconstruction_size: int = 500
    temperature: float = 1.0


class PretrainModule(pl.LightningModule):
    """Trains a :class:`MoleculeVAE`; the encoder is what later stages reuse."""

    def __init__(self, vocabulary: dict, encoder: dict | None = None, decoder: dict | None = None,
                 optim: dict | None = None):
        super().__init__()
        self.save_hyperparameters()
        self.vocabulary = SelfiesVocabulary.from_dict(vocabulary)
        self.optim = OptimConfig(**(optim or {}))
        self.model = MoleculeVAE(len(self.vocabulary), EncoderConfig(**(encoder or {})), DecoderConfig(**(decoder or {})))
        self._epoch_start = 0.0
        self._epoch_molecules = 0
        self.history: list[dict[str, float]] = []

    def beta(self) -> float:
        warmup = max(1, self.optim.kl_warmup_steps)
        return self.optim.beta * min(1.0, self.global_step / warmup)

    def losses(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        graphs, inputs, targets = batch
        if self.training and self.optim.word_dropout > 0:
            blank = torch.rand(inputs.shape, device=inputs.device) < self.optim.word_dropout
            blank[:, 0] = False  # keep <bos>
            inputs = inputs.masked_fill(blank, self.vocabulary.pad_id)
        logits, mean, logvar = self.model(graphs, inputs)
        reconstruction = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                                         ignore_index=self.vocabulary.pad_id, reduction="sum") / targets.size(0)
        kl = -0.5 * torch.mean(torch.sum(1 + logvar - mean.pow(2) - logvar.exp(), dim=1))
        return reconstruction + self.beta() * kl, reconstruction, kl

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        loss, reconstruction, kl = self.losses(batch)
        size = batch[1].size(0)
        self._epoch_molecules += size
        self.log_dict({"train_loss": loss, "train_reconstruction": reconstruction, "train_kl": kl, "beta": self.beta()},
                      batch_size=size, on_step=False, on_epoch=True, prog_bar=False, sync_dist=True)
        self.log("loss", loss, batch_size=size, prog_bar=True, on_step=True, on_epoch=False, logger=False)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        _, reconstruction, kl = self.losses(batch)
        # Validation loss uses the full beta, so it is comparable across epochs (early stopping).
        loss = reconstruction + self.optim.beta * kl
        size = batch[1].size(0)
        self.log_dict({"val_loss": loss, "val_reconstruction": reconstruction, "val_kl": kl}, batch_size=size,
                      prog_bar=True, on_epoch=True, sync_dist=True)  # averaged over DDP ranks

    def on_train_epoch_start(self) -> None:
        self._epoch_start, self._epoch_molecules = time.perf_counter(), 0

    def on_train_epoch_end(self) -> None:
        seconds = time.perf_counter() - self._epoch_start
        if seconds > 0 and self._epoch_molecules:
            self.log("train_mol_per_s", self._epoch_molecules / seconds, sync_dist=True)
        metrics = {k: float(v) for k, v in self.trainer.callback_metrics.items() if k.startswith(("train_", "val_"))}
        # an epoch a resumed run trains again replaces its entry
        self.history = [h for h in self.history if h["epoch"] < self.current_epoch]
        self.history.append({"epoch": self.current_epoch, **metrics})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # the epochs so far travel with the checkpoint: a resumed run's history is complete
        checkpoint[HISTORY_KEY] = list(self.history)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = list(checkpoint.get(HISTORY_KEY, []))

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        datamodule = getattr(self.trainer, "datamodule", None)
        metrics = self.sample_metrics(getattr(datamodule, "train_smiles", None))
        if datamodule is not None and datamodule.val_set is not None:
            metrics["reconstruction_accuracy"] = self.reconstruction_accuracy(datamodule.val_set)
        self.log_dict(metrics, sync_dist=True)

    def sample_metrics(self, training_smiles=None) -> dict[str, float]:
        was_training = self.training
        self.eval()
        samples = sample_smiles(self.model, self.vocabulary, self.optim.sample_size, self.optim.temperature,
                                seed=0, device=self.device)
        self.train(was_training)
        metrics = generation_metrics(samples, training_smiles, training_is_canonical=True)
        return {f"sample_{k}": float(v) for k, v in metrics.items() if k in
                ("validity", "uniqueness", "novelty", "internal_diversity")}

    @torch.no_grad()
    def reconstruction_accuracy(self, dataset) -> float:
        """Fraction of held-out molecules whose greedy reconstruction is the same molecule."""
        from torch_geometric.data import Batch

        was_training = self.training
        self.eval()
        n = min(len(dataset), self.optim.reconstruction_size)
        correct = 0
        for start in range(0, n, 256):
            idx = range(start, min(n, start + 256))
            graphs = Batch.from_data_list([dataset.graphs[i] for i in idx]).to(self.device)
            mean, _ = self.model.encode(graphs)
            ids = self.model.decoder.generate(mean, self.vocabulary.max_length, self.vocabulary.bos_id,
                                              self.vocabulary.eos_id, greedy=True)
            for i, row in zip(idx, ids.cpu().tolist()):
                correct += self.vocabulary.decode(row) == dataset.graphs.smiles[i]
        self.train(was_training)
        return correct / n if n else 0.0

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.optim.learning_rate)


def optim_dict(config: OptimConfig) -> dict:
    return asdict(config)


#: The decoder's parameters with one row per SELFIES token.
TOKEN_ROWS = ("decoder.embedding.weight", "decoder.output.weight", "decoder.output.bias")


@torch.no_grad()
def grow_vocabulary(model: MoleculeVAE, old: SelfiesVocabulary, new: SelfiesVocabulary,
                    seed: int = 0) -> MoleculeVAE:
    """``model`` (trained with ``old``) as a model for ``new``, a vocabulary that extends
    ``old`` (:meth:`SelfiesVocabulary.extend`): every weight is kept, and the token embedding
    and output layer gain one row per new token.

    New embedding rows are drawn around the old tokens' rows (their per-dimension mean and
    standard deviation).  New output rows get small random weights and the lowest old bias,
    so a new token starts as unlikely as the parent's rarest token and the parent's
    predictions barely move; the bias is not set lower still, because Adam moves a bias by
    about the learning rate per step whatever its gradient, so a far lower start would take
    thousands of steps to climb back.
    """
    if list(new.tokens[: len(old)]) != list(old.tokens):
        raise InputError("the new vocabulary must extend the old one (old tokens first, same ids)")
    if model.vocab_size != len(old):
        raise InputError(f"the model has {model.vocab_size} token rows, the old vocabulary {len(old)} tokens")
    grown = MoleculeVAE(len(new), model.encoder.config, model.decoder.config)
    state = model.state_dict()
    added = len(new) - len(old)
    if added:
        generator = torch.Generator().manual_seed(seed)
        embedding = state["decoder.embedding.weight"]
        real = embedding[len(SPECIAL_TOKENS):]
        rows = real.mean(0) + real.std(0) * torch.randn(added, embedding.size(1), generator=generator)
        state["decoder.embedding.weight"] = torch.cat([embedding, rows.to(embedding.dtype)])
        weight, bias = state["decoder.output.weight"], state["decoder.output.bias"]
        scale = 0.01 * weight.std()
        state["decoder.output.weight"] = torch.cat([weight, scale * torch.randn(added, weight.size(1), generator=generator)])
        state["decoder.output.bias"] = torch.cat([bias, bias.min().expand(added)])
    grown.load_state_dict(state)
    return grown
