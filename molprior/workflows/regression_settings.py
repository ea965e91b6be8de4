"""The regression benchmark's methods and defaults, apart from the code that runs it, so that
the command line can show them without importing torch."""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("svr_ecfp", "rf_ecfp", "gnn_finetune")
#: Meta-training epochs of ``gnn_finetune``'s default initialisation.
METATRAIN_EPOCHS = 3


@dataclass
class FinetuneConfig:
    """How ``gnn_finetune`` trains on one target's training split.

    Targets are standardised with the training split's mean and spread; Adam with a short
    linear warm-up and cosine decay over ``epochs`` passes of mini-batches; ``dropout``
    replaces the head's dropout while fine-tuning (``None`` keeps the model's).
    """

    epochs: int = 10
    lr: float = 1e-3
    weight_decay: float = 1e-5
    batch_size: int = 64
    dropout: float | None = 0.2
