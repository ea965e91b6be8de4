"""Meta-training on a fixed prior's features: the encoder and the head's hidden layer of a
few-shot model, kept as they are and computed once per molecule.

What is meta-trained then reads those features (a hypernetwork head's latent start, generator
and support encoder, :mod:`molprior.models.hyper_head`): the steps cost no graph network, so
thousands of tasks are seen in minutes on a CPU.  The model exported puts the prior's encoder
and hidden layer back in front (:func:`with_prior_trunk`), so it reads molecules as every
few-shot model does.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, replace

import torch

from molprior.errors import InputError
from molprior.meta.batches import FeatureBank, MoleculeBank
from molprior.meta.learner import FewShotLearner
from molprior.models.heads import HeadConfig, TaskModel
from molprior.training.metatrain_module import MetaTrainModule

#: Molecules per forward pass of the prior.
CHUNK = 2048


def check_prior_head(head_config: dict | None, source: str) -> None:
    """A fixed prior is a few-shot model with an MLP head (its hidden layer is the trunk)."""
    if head_config is None:
        raise InputError(f"freeze_prior meta-trains on a few-shot model's features; {source} is not one "
                         "(prior: shipped-fewshot, or a meta-training output)")
    if head_config.get("hyper") is not None:
        raise InputError(f"{source} has a hypernetwork head: a fixed prior's trunk is an MLP head's hidden layer")


@torch.inference_mode()
def prior_features(model: TaskModel, bank: MoleculeBank) -> FeatureBank:
    """The hidden-layer features of ``model`` (encoder, fingerprint, head's hidden layer) for
    every molecule of ``bank``, in chunks of :data:`CHUNK` (each molecule's row is its own:
    the chunking does not change it)."""
    model.eval()
    rows = [model.head.hidden(model.represent(bank.batch(range(i, min(i + CHUNK, len(bank))))))
            for i in range(0, len(bank), CHUNK)]
    features = torch.cat(rows) if rows else torch.zeros(0, model.head_config.hidden_dim)
    return FeatureBank(features.clone(), list(bank.graphs.smiles))


def feature_module(head: HeadConfig, learner: dict, optim: dict, width: int) -> MetaTrainModule:
    """The training module over ``width``-wide prior features: ``head`` without its trunk."""
    if head.hyper is None:
        raise InputError("freeze_prior trains what reads a fixed prior's features: configure a hypernetwork head "
                         "(head: hyper: {latent_dim: ...})")
    return MetaTrainModule(head=asdict(replace(head, hidden_dim=0, fingerprint_dim=0)), learner=learner,
                           optim=optim, input_dim=width)


def with_prior_trunk(learner: FewShotLearner, encoder, head_config: dict,
                     head_state: dict[str, torch.Tensor]) -> FewShotLearner:
    """The learner meta-trained on prior features with the prior's ``encoder`` and its MLP
    head's hidden layer (``head_state``'s ``net.0``) put back in front: a model of molecules."""
    trained = learner.model
    head = replace(trained.head_config, hidden_dim=head_config["hidden_dim"],
                   fingerprint_dim=head_config["fingerprint_dim"], dropout=head_config.get("dropout", 0.0))
    full = FewShotLearner(TaskModel(copy.deepcopy(encoder), head), learner.config)
    state = {f"head.{name}": value for name, value in trained.head.state_dict().items()}
    state.update({"head.trunk.0.weight": head_state["net.0.weight"], "head.trunk.0.bias": head_state["net.0.bias"]})
    state.update({f"encoder.{name}": value for name, value in encoder.state_dict().items()})
    full.model.load_state_dict(state)
    full.maml.inner_lrs.load_state_dict(learner.maml.inner_lrs.state_dict())
    return full.eval()
