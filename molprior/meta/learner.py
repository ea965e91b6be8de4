"""A few-shot learner: a :class:`TaskModel` and the rule that adapts it to one assay's support.

Algorithms:

* ``maml``: the gradient-based inner loop of :class:`~molprior.meta.maml.MAML` (second or
  first order, ANIL, Meta-SGD, as its config says; with a hypernetwork head, in its latent
  code from the support encoder's start: the benchmark's ``hyper_maml``);
* ``protonet``: class prototypes in the head's hidden space; the adapted model is an
  ordinary :class:`TaskModel` whose last layer holds the prototypes (the prototype logit
  ``|q-p0|^2 - |q-p1|^2`` is linear in ``q``), so it is saved and scored like any other;
* ``adkf``: a Gaussian process in the head's hidden space whose kernel is fitted to each
  support by marginal likelihood (:mod:`molprior.meta.gp`, ADKF-IFT); the adapted model keeps
  the support's features, labels and fitted hyperparameters in :attr:`Adapted.state`, and
  outputs the logit of the predictive probability of being active;
* ``finetune``: Adam on the support from the current weights (all of them, or the head only
  with a new head): the non-meta-learned baselines.

``adapt`` gives the adapted parameters of the whole model; regression targets are
standardised with the support's mean and spread, which :class:`Adapted` keeps to turn outputs
back into values.  The task type names the objective (:mod:`molprior.meta.losses`):
``classification`` (labels), ``regression`` (values, censored or not) or ``affinity`` (MHC
binding: MHCflurry's transformed affinity, censored, on the sigmoid of the output); the MHC
model's learner is this one over an encoder-less :class:`TaskModel` (``task_type="affinity"``).
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.func import functional_call

from molprior.errors import InputError
from molprior.typed_configs import nested_configs
from molprior.meta import gp
from molprior.meta.finetune import fine_tune
from molprior.meta.losses import OBJECTIVES, binary_loss, objective
from molprior.meta.maml import MAML, MAMLConfig
from molprior.meta.protonet import prototype_layer, prototype_logits
from molprior.models.heads import TaskModel

ALGORITHMS = ("maml", "protonet", "adkf", "finetune")


@dataclass
class LearnerConfig:
    """How a learner adapts: its algorithm, the objective (``task_type``), MAML's inner loop
    (``maml``), the GP head's fitting (``gp``, for adkf) and plain fine-tuning's steps."""

    algorithm: str = "maml"
    task_type: str = "classification"
    maml: MAMLConfig = field(default_factory=MAMLConfig)
    gp: gp.GPConfig = field(default_factory=gp.GPConfig)
    finetune_steps: int = 50
    finetune_lr: float = 1e-3
    finetune_head_only: bool = False

    def __post_init__(self) -> None:
        nested_configs(self)  # a saved model's or a file's mappings (old models: only the keys they set)
        if self.algorithm not in ALGORITHMS:
            raise InputError(f"unknown algorithm {self.algorithm!r}; choose one of {ALGORITHMS}")
        if self.task_type not in OBJECTIVES:  # any registered objective (molprior.meta.losses)
            raise InputError(f"unknown task type {self.task_type!r}; choose one of {tuple(OBJECTIVES)}")
        if self.task_type != "classification" and (self.algorithm == "protonet" or self.maml.proto_init):
            raise InputError("prototypes need classes: use maml without proto_init, or finetune, for regression")
        if self.task_type != "classification" and self.algorithm == "adkf":
            raise InputError("the adkf head is written for binary labels: use maml or finetune for regression")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Adapted:
    """Parameters of the model adapted to one support, and how outputs map to values."""

    params: dict[str, torch.Tensor]
    target_mean: float = 0.0
    target_std: float = 1.0
    #: per-task tensors besides the weights (the GP head's support features, labels, hyperparameters)
    state: dict[str, torch.Tensor] = field(default_factory=dict)

    def head(self) -> dict[str, torch.Tensor]:
        """The head's parameters alone, in the head's own names (what the MHC model keeps per allele)."""
        return {n[len("head."):]: p for n, p in self.params.items() if n.startswith("head.")}


class FewShotLearner(nn.Module):
    """The meta-learned (or pretrained) model and its adaptation rule."""

    def __init__(self, model: TaskModel, config: LearnerConfig = LearnerConfig()):
        super().__init__()
        if model.head_config.hyper is not None and config.algorithm not in ("maml", "finetune"):
            raise InputError(f"a hypernetwork head adapts its latent code by MAML (or is fine-tuned), not by "
                             f"{config.algorithm}")
        self.config = config
        self.maml = MAML(model, config.maml)
        self.gp = config.gp

    @property
    def model(self) -> TaskModel:
        return self.maml.model

    # ---- losses -------------------------------------------------------------------------
    @property
    def standardised(self) -> bool:
        """Whether support targets are standardised (regression), as the objective says."""
        return objective(self.config.task_type).standardise_targets

    def _loss(self, relations: torch.Tensor | None):
        return objective(self.config.task_type).loss_for(relations)

    def normalise(self, targets: torch.Tensor) -> tuple[torch.Tensor, float, float]:
        """Support targets in the units the model is trained in, with the mean and spread used
        (those of an objective that standardises them: regression)."""
        if not self.standardised:
            return targets.float(), 0.0, 1.0
        mean = float(targets.mean())
        std = float(targets.std()) if targets.numel() > 1 else 1.0
        std = std if std > 1e-6 else 1.0
        return (targets.float() - mean) / std, mean, std

    def meta_loss(self, support, support_targets: torch.Tensor, query, query_targets: torch.Tensor,
                  support_relations: torch.Tensor | None = None,
                  query_relations: torch.Tensor | None = None) -> torch.Tensor:
        """One task's meta-objective: the loss on the query after adapting to the support."""
        if self.config.algorithm == "protonet":
            hidden = self.model.head.hidden
            logits = prototype_logits(hidden(self.model.represent(support)), support_targets,
                                      hidden(self.model.represent(query)))
            return binary_loss(logits, query_targets)
        if self.config.algorithm == "adkf":
            hidden = self.model.head.hidden
            support_x, query_x = hidden(self.model.represent(support)), hidden(self.model.represent(query))
            support_y, query_y = gp.signed(support_targets), gp.signed(query_targets)
            theta, mode = gp.fit_theta(support_x, support_y, self.gp.fit_steps)
            if self.gp.ift:
                return gp.ift_surrogate(support_x, support_y, query_x, query_y, theta, mode)
            return gp.predictive_nll(support_x, support_y, query_x, query_y, theta)
        if self.config.algorithm != "maml":
            raise InputError(f"{self.config.algorithm} is not meta-trained")
        s_targets, mean, std = self.normalise(support_targets)
        q_targets = (query_targets.float() - mean) / std if self.standardised else query_targets
        return self.maml.query_loss(support, s_targets, query, q_targets, self._loss(support_relations),
                                    self._loss(query_relations))

    # ---- adaptation ---------------------------------------------------------------------
    @property
    def encoder_fixed(self) -> bool:
        """Whether adaptation leaves the encoder (and so the head's input) unchanged; then
        :meth:`adapt` and :meth:`predict` also take precomputed :meth:`represent` outputs."""
        c = self.config
        return c.algorithm in ("protonet", "adkf") or (c.algorithm == "maml" and self.maml.head_only) or (
            c.algorithm == "finetune" and c.finetune_head_only)

    @torch.no_grad()
    def represent(self, batch) -> torch.Tensor:
        """The head's input for ``batch`` (molecule embedding, plus fingerprint when configured)."""
        return batch if isinstance(batch, torch.Tensor) else self.model.represent(batch)

    def check_support(self, targets: torch.Tensor) -> None:
        """A classification support needs both classes, a regression support two values (a
        clear error otherwise)."""
        if self.config.task_type == "classification":
            positives = int((targets > 0.5).sum())
            if positives == 0 or positives == targets.numel():
                raise InputError(f"the support holds only {'actives' if positives else 'inactives'} "
                                 f"({targets.numel()} molecules): adaptation needs both classes")
        elif self.standardised and targets.numel() < 2:
            raise InputError(f"a {self.config.task_type} support needs at least 2 measurements")
        elif targets.numel() == 0:
            raise InputError("the support is empty")

    def adapt(self, support, targets: torch.Tensor, relations: torch.Tensor | None = None,
              steps: int | None = None, start: torch.Tensor | None = None) -> Adapted:
        """Adapt to one support set; returns detached parameters of the whole model.  ``steps``
        overrides the MAML inner loop's number of steps; ``start`` is a hypernetwork head's
        latent code to start from (a description's: :mod:`molprior.zeroshot`)."""
        self.check_support(targets)
        normalised, mean, std = self.normalise(targets)
        was_training = self.training
        self.eval()
        try:
            if self.config.algorithm == "adkf":
                return self._fit_gp(support, normalised)
            if self.config.algorithm == "protonet":
                params = self._prototype_params(support, normalised)
            elif self.config.algorithm == "finetune":
                params = self._finetune(support, normalised, relations)
            else:
                fast = self.maml.adapt(support, normalised, self._loss(relations), steps, start)
                params = {**{n: p.detach() for n, p in self.model.named_parameters()},
                          **{(f"head.{n}" if self.maml.head_only else n): p for n, p in fast.items()}}
        finally:
            self.train(was_training)
        return Adapted(params, mean, std)

    def with_latent(self, latent: torch.Tensor) -> Adapted:
        """The model whose hypernetwork head sits at ``latent``, with no support (zero-shot)."""
        if not self.maml.hyper:
            raise InputError("a head from a latent code needs a hypernetwork head (a hyper_maml model)")
        params = {n: p.detach() for n, p in self.model.named_parameters()}
        params["head.latent"] = latent.detach().reshape(params["head.latent"].shape)
        return Adapted(params)

    @torch.no_grad()
    def _fit_gp(self, support, labels: torch.Tensor) -> Adapted:
        features = self.model.head.hidden(self.represent(support))
        targets = gp.signed(labels)
        theta, _ = gp.fit_theta(features, targets, self.gp.fit_steps)
        params = {n: p.detach() for n, p in self.model.named_parameters()}
        return Adapted(params, state={"gp.features": features, "gp.targets": targets, "gp.theta": theta})

    @torch.no_grad()
    def predict_with_variance(self, adapted: Adapted, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """The GP head's predictive mean and variance of the ``±1`` label (``adkf`` only)."""
        if "gp.theta" not in adapted.state:
            raise ValueError("only the adkf learner has a predictive variance")
        head = {n[len("head."):]: p for n, p in adapted.params.items() if n.startswith("head.")}
        representation = self.represent(batch)  # the encoder is not adapted: its own weights
        features = functional_call(self.model.head, head, (representation,), {"hidden_only": True})
        state = adapted.state
        return gp.posterior(state["gp.features"], state["gp.targets"], features, state["gp.theta"])

    @torch.no_grad()
    def _prototype_params(self, support, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        weight, bias = prototype_layer(self.model.head.hidden(self.represent(support)), labels)
        params = {n: p.detach().clone() for n, p in self.model.named_parameters()}
        params["head.net.3.weight"], params["head.net.3.bias"] = weight, bias
        return params

    def _finetune(self, support, targets: torch.Tensor, relations: torch.Tensor | None) -> dict[str, torch.Tensor]:
        model = copy.deepcopy(self.model)
        loss_fn = self._loss(relations)
        if self.config.finetune_head_only:
            representation = self.represent(support)
            parameters = list(model.head.parameters())
            forward = lambda: model.head(representation)  # noqa: E731
        else:
            parameters = list(model.parameters())
            forward = lambda: model(support)  # noqa: E731
        optimizer = torch.optim.Adam(parameters, lr=self.config.finetune_lr)
        model.train()
        fine_tune(optimizer, lambda rows: loss_fn(forward(), targets), len(targets), self.config.finetune_steps)
        return {n: p.detach() for n, p in model.named_parameters()}

    @torch.no_grad()
    def predict_with_spread(self, adapted: Adapted, batch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`predict`'s outputs and, for a GP head, the predictive standard deviation of
        the ``±1`` label (``None`` for heads without one)."""
        if "gp.theta" in adapted.state:
            mean, variance = self.predict_with_variance(adapted, batch)
            return gp.probability_logit(mean, variance), variance.sqrt()
        return self.predict(adapted, batch), None

    @torch.no_grad()
    def predict(self, adapted: Adapted, batch) -> torch.Tensor:
        """Outputs of the adapted model: logits (classification, affinity) or values (regression).
        ``batch`` may be a :meth:`represent` output when :attr:`encoder_fixed`."""
        if "gp.theta" in adapted.state:
            return self.predict_with_spread(adapted, batch)[0]
        if isinstance(batch, torch.Tensor):
            head = {n[len("head."):]: p for n, p in adapted.params.items() if n.startswith("head.")}
            out = functional_call(self.model.head, head, (batch,))
        else:
            out = functional_call(self.model, adapted.params, (batch,))
        if self.standardised:
            out = out * adapted.target_std + adapted.target_mean
        return out
