"""Model-agnostic meta-learning (Finn et al. 2017) with ``torch.func.functional_call``.

The inner loop adapts a copy of the parameters to a task's support set with a few gradient
steps; the outer loop updates the initial parameters so that the adapted model does well on
the task's query set.  Options:

* ``first_order``: drop the second-order terms (FOMAML): the inner gradients are treated as
  constants, which is cheaper and often as good;
* ``anil``: adapt only the head in the inner loop (Raghu et al. 2020, "Almost No Inner Loop");
  the encoder runs once per task and is meta-learned by the outer loop alone;
* ``learn_inner_lr``: one learnable inner learning rate per adapted parameter tensor element
  (Meta-SGD, Li et al. 2017);
* ``proto_init``: before the inner loop, set the output layer from the support's class
  prototypes in the head's hidden space (Proto-MAML, Triantafillou et al. 2020), so the inner
  loop starts from a classifier of this task rather than from an average over tasks.

With a hypernetwork head (:class:`~molprior.models.hyper_head.HyperHead`) the inner loop
runs in its latent code alone, from the support encoder's amortised start (the encoder and the
head's trunk are not adapted, as under ANIL).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch import nn
from torch.func import functional_call

from molprior.errors import InputError
from molprior.meta.protonet import prototype_layer
from molprior.models.heads import TaskModel

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class MAMLConfig:
    """Inner-loop settings."""

    inner_steps: int = 5
    inner_lr: float = 0.01
    first_order: bool = False
    anil: bool = False
    learn_inner_lr: bool = False
    proto_init: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


class MAML(nn.Module):
    """Wraps a :class:`TaskModel`; its parameters are the meta-learned initialisation."""

    def __init__(self, model: TaskModel, config: MAMLConfig = MAMLConfig()):
        super().__init__()
        self.model = model
        self.config = config
        if config.proto_init and self.hyper:
            raise InputError("a hypernetwork head starts from its support encoder, not from prototypes: "
                             "drop proto_init")
        self.inner_lrs = nn.ParameterDict()
        if config.learn_inner_lr:
            for name, parameter in self.adapted_parameters().items():
                self.inner_lrs[_key(name)] = nn.Parameter(torch.full_like(parameter, config.inner_lr))

    @property
    def hyper(self) -> bool:
        """Whether the head is generated from a latent code (the inner loop adapts the code)."""
        return hasattr(self.model.head, "inner_parameters")

    @property
    def head_only(self) -> bool:
        """Whether the inner loop leaves the encoder alone (ANIL, or a hypernetwork head), so
        that the head's input is computed once per task; adapted names are then the head's."""
        return self.config.anil or self.hyper

    def adapted_parameters(self) -> dict[str, torch.Tensor]:
        """The parameters the inner loop changes: a hypernetwork head's latent code, the
        head's (ANIL) or all of them."""
        if self.hyper:
            return self.model.head.inner_parameters()
        module = self.model.head if self.config.anil else self.model
        return dict(module.named_parameters())

    def _learning_rate(self, name: str) -> torch.Tensor | float:
        return self.inner_lrs[_key(name)] if self.config.learn_inner_lr else self.config.inner_lr

    def adapt(self, support, targets: torch.Tensor, loss: Loss, steps: int | None = None,
              start: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Fast weights after ``steps`` inner gradient steps on the support set; a hypernetwork
        head starts from the latent code ``start`` (default its meta-learned one), shifted by
        its support encoder.

        In training mode the steps stay on the autograd graph (second order unless
        ``first_order``), so the outer loss can differentiate through them.
        """
        if start is not None and not self.hyper:
            raise InputError("only a hypernetwork head starts from a latent code")
        with torch.enable_grad():  # adaptation needs gradients even when called for inference
            params = self._adapt(support, targets, loss, self.config.inner_steps if steps is None else steps, start)
        return params if self.training else {name: p.detach() for name, p in params.items()}

    def _adapt(self, support, targets: torch.Tensor, loss: Loss, steps: int,
               start: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        create_graph = self.training and not self.config.first_order
        params = self.adapted_parameters()
        if self.head_only:
            representation = self.represent(support)
            def forward(p):
                return functional_call(self.model.head, p, (representation,))
        else:
            def forward(p):
                return functional_call(self.model, p, (support,))
        if self.hyper:
            params = {"latent": self.model.head.amortised_latent(representation, targets, start)}
        if self.config.proto_init:
            params = self._prototype_init(params, support, targets)
        for _ in range(steps):
            value = loss(forward(params), targets)
            grads = torch.autograd.grad(value, list(params.values()), create_graph=create_graph, allow_unused=True)
            params = {name: p if g is None else p - self._learning_rate(name) * (g if create_graph else g.detach())
                      for (name, p), g in zip(params.items(), grads)}
        return params

    def _prototype_init(self, params: dict[str, torch.Tensor], support, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Output layer ``w = 2(p1 - p0)``, ``b = |p0|^2 - |p1|^2`` from the support's prototypes
        (differentiable, so the outer loop learns the hidden space through it)."""
        if self.config.anil:
            hidden = functional_call(self.model.head, params, (self.represent(support),), {"hidden_only": True})
            prefix = "net.3."
        else:
            hidden = functional_call(self.model, params, (support,), {"hidden_only": True})
            prefix = "head.net.3."
        weight, bias = prototype_layer(hidden, labels)
        return {**params, prefix + "weight": weight, prefix + "bias": bias}

    def represent(self, batch) -> torch.Tensor:
        """The head's input for ``batch``; a tensor is taken as already computed (:attr:`head_only`:
        the encoder is not adapted, so a task's representations can be computed once)."""
        return batch if isinstance(batch, torch.Tensor) else self.model.represent(batch)

    def predict(self, params: dict[str, torch.Tensor], batch) -> torch.Tensor:
        """Outputs of the adapted model (fast weights ``params``) on ``batch`` (with ANIL,
        a batch or its :meth:`represent` output)."""
        if self.head_only:
            return functional_call(self.model.head, params, (self.represent(batch),))
        return functional_call(self.model, params, (batch,))

    def query_loss(self, support, support_targets: torch.Tensor, query, query_targets: torch.Tensor,
                   loss: Loss, query_loss: Loss | None = None) -> torch.Tensor:
        """The meta-objective of one task: the adapted model's loss on the query set."""
        params = self.adapt(support, support_targets, loss)
        return (query_loss or loss)(self.predict(params, query), query_targets)


def _key(name: str) -> str:
    return name.replace(".", "__")
