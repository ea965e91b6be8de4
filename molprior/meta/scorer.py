"""The one scorer: a learner's model and its heads by name, run in fixed-size blocks.

Every model molprior scores with is a :class:`~molprior.meta.learner.FewShotLearner`'s task
model and heads adapted from it: a few-shot model adapted to an assay has one head (named by the
assay), the MHC predictor one per allele.  A head is an :class:`~molprior.meta.learner.Adapted`:
the parameters it sets (and a GP head's support state).  A head that sets only ``head.*``
parameters reads the representation the model's shared weights give, computed once for all such
heads (scoring a peptide against the six alleles of a genotype costs little more than against
one); any other head, e.g. one with its own body adapter, runs the whole model on the inputs.
Outputs go through the objective's transform (probabilities, values, transformed affinities).

What a user's table then shows is the post-processor's: support similarity and uncertainty for
an assay (:mod:`molprior.inference.assay_scoring`), IC50, percentile rank, binder call and genotype
fan-out for MHC (:mod:`molprior.meta.mhc_predictor`, :mod:`molprior.inference.mhc_scoring`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import Adapted, FewShotLearner
from molprior.meta.losses import objective
from molprior.models.allele_model import PeptideFeatures
from molprior.models.fixed_blocks import BLOCK_ROWS, fixed_blocks, map_fixed_blocks


class ModelInputs(Protocol):
    """Rows of inputs a task model reads, taken a block at a time."""

    def __len__(self) -> int: ...

    def block(self, rows: np.ndarray):
        """The model's input for ``rows`` (positions into these inputs)."""

    def __getitem__(self, rows: np.ndarray) -> "ModelInputs": ...


@dataclass
class BankRows:
    """Molecules of a :class:`MoleculeBank` (graph batches)."""

    bank: MoleculeBank
    indices: np.ndarray

    def __len__(self) -> int:
        return len(self.indices)

    def block(self, rows: np.ndarray):
        return self.bank.batch(self.indices[rows])

    def __getitem__(self, rows: np.ndarray) -> "BankRows":
        return BankRows(self.bank, self.indices[rows])


@dataclass
class FeatureRows:
    """Precomputed features, one row per input (an encoder-less task model's input)."""

    x: torch.Tensor

    def __len__(self) -> int:
        return self.x.shape[0]

    def block(self, rows: np.ndarray) -> PeptideFeatures:
        return PeptideFeatures(self.x[torch.from_numpy(np.asarray(rows, dtype=np.int64))])

    def __getitem__(self, rows) -> "FeatureRows":
        return FeatureRows(self.x[rows])


@dataclass
class Representation:
    """Inputs and what the heads that set only ``head.*`` read for them (one row per input).
    Either may be missing: without ``inputs`` only such heads can be scored; without ``shared``
    every head runs the whole model."""

    inputs: ModelInputs | None
    shared: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.shared) if self.shared is not None else len(self.inputs)

    def __getitem__(self, rows) -> "Representation":
        return Representation(None if self.inputs is None else self.inputs[rows],
                              None if self.shared is None else self.shared[rows])


def sets_head_only(adapted: Adapted) -> bool:
    """Whether ``adapted`` sets the head's parameters alone (so reads the shared representation)."""
    return all(name.startswith("head.") for name in adapted.params)


@dataclass
class Scorer:
    """A learner and its heads by name, on one device (the CPU unless moved by :meth:`to`)."""

    learner: FewShotLearner
    heads: dict[str, Adapted] = field(default_factory=dict)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def names(self) -> list[str]:
        return sorted(self.heads)

    def to(self, device: str | torch.device) -> "Scorer":
        """Score on ``device`` (e.g. ``cuda``): the model, every head and every input block go
        there; outputs come back to the CPU."""
        self.device = torch.device(device)
        self.learner.to(self.device)
        for adapted in self.heads.values():
            adapted.params = {n: p.to(self.device) for n, p in adapted.params.items()}
            adapted.state = {n: v.to(self.device) if isinstance(v, torch.Tensor) else v for n, v in adapted.state.items()}
        return self

    @torch.inference_mode()
    def represent(self, inputs: ModelInputs, shared: bool | None = None) -> Representation:
        """``inputs`` and the model's shared representation of them: when a head reads it
        (``shared=None``), or as ``shared`` says."""
        if shared is None:
            shared = any(sets_head_only(head) for head in self.heads.values())
        if not shared:
            return Representation(inputs, None)
        return Representation(inputs, map_fixed_blocks(
            lambda rows: self.learner.model.represent(inputs.block(rows).to(self.device)), len(inputs)))

    @torch.inference_mode()
    def outputs(self, representation: Representation, head: str,
                errors: dict[int, str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Head ``head``'s transformed outputs and spreads (a GP head's predictive standard
        deviation; NaN for others) for each row, as float64.  With ``errors``, a block whose
        forward pass fails is scored row by row, so that only the rows that fail get NaN and
        their reason in ``errors`` (by row); without, the failure propagates."""
        adapted = self.heads[head]
        if sets_head_only(adapted) and representation.shared is not None:
            shared = representation.shared
            model_input = lambda rows: shared[torch.from_numpy(rows)]  # noqa: E731
        elif representation.inputs is None:
            raise ValueError(f"{head} sets more than the head's weights (its own body or encoder): "
                             "scoring it needs the inputs, not only the shared representation")
        else:
            model_input = representation.inputs.block
        n = len(representation)
        values, spread = np.full(n, np.nan), np.full(n, np.nan)
        for rows, n_real in fixed_blocks(n):
            try:
                block = self._forward(adapted, model_input(rows))
                values[rows[:n_real]], spread[rows[:n_real]] = block[0][:n_real], block[1][:n_real]
            except Exception:  # noqa: BLE001 - isolate the row that breaks the model
                if errors is None:
                    raise
                for row in rows[:n_real]:
                    try:
                        single = self._forward(adapted, model_input(np.full(BLOCK_ROWS, row)))
                        values[row], spread[row] = single[0][0], single[1][0]
                    except Exception as error:  # noqa: BLE001 - becomes that row's error
                        errors[int(row)] = f"scoring failed: {type(error).__name__}: {error}"
        return values, spread

    @torch.inference_mode()
    def _forward(self, adapted: Adapted, batch) -> tuple[np.ndarray, np.ndarray]:
        out, spread = self.learner.predict_with_spread(adapted, batch.to(self.device))
        out = objective(self.learner.config.task_type).output(out).to(torch.float64).cpu().numpy()
        return out, np.full(len(out), np.nan) if spread is None else spread.to(torch.float64).cpu().numpy()
