"""Typed configurations, loaded from YAML files under ``pipelines/configs/``."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from molprior.data.readers import InputSpec


@dataclass
class FewShotConfig:
    """The few-shot assay protocol: which assays, support sizes, draws and methods."""

    input: str = "data/moleculeace"
    format: str = "auto"
    smiles_column: str | None = None
    target_columns: list[str] | None = None
    assay_column: str | None = None
    value_column: str | None = None
    test_assays: list[str] = field(default_factory=list)
    support_sizes: list[int] = field(default_factory=lambda: [16, 32, 64])
    methods: list[str] = field(default_factory=lambda: ["rf_ecfp", "knn_tanimoto"])
    draws: int = 10
    seed: int = 0

    @property
    def spec(self) -> InputSpec:
        """How to read :attr:`input`."""
        return InputSpec(self.format, self.smiles_column, self.target_columns, self.assay_column, self.value_column)


@dataclass
class DemoConfig:
    """What ``molprior demo`` runs: a short pretraining (``pretrain``: keys of
    :class:`PretrainConfig`), ``generate`` molecules from the shipped prior, the few-shot table."""

    fewshot: FewShotConfig = field(default_factory=FewShotConfig)
    pretrain: dict = field(default_factory=dict)
    generate: int = 10
    output: str = "demo-output"
    jobs: int = -1


@dataclass
class PretrainConfig:
    """Generative pretraining: corpus, model shape, optimisation, Trainer flags.

    ``encoder``, ``decoder``, ``optim`` and ``trainer`` hold the fields of
    :class:`~molprior.models.encoder.EncoderConfig`, :class:`~molprior.models.generative.DecoderConfig`,
    :class:`~molprior.training.pretrain_module.OptimConfig` and
    :class:`~molprior.training.trainer.TrainerConfig` (their defaults where left out).
    """

    corpus: str = "data/moses/moses_train_50k.csv.gz"
    smiles_column: str | None = None
    max_molecules: int | None = None
    max_tokens: int = 99
    val_fraction: float = 0.05
    batch_size: int = 128
    seed: int = 0
    encoder: dict = field(default_factory=dict)
    decoder: dict = field(default_factory=dict)
    optim: dict = field(default_factory=dict)
    trainer: dict = field(default_factory=dict)


def load_pretrain_config(path: str | Path | None) -> PretrainConfig:
    """Read a pretraining YAML file (``None``: the defaults)."""
    if path is None:
        return PretrainConfig()
    values = yaml.safe_load(Path(path).read_text()) or {}
    return _build(PretrainConfig, values)


def _build(cls, values: dict[str, Any]):
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys {unknown}; known: {sorted(known)}")
    kwargs = {}
    for name, value in values.items():
        kind = known[name].type
        if kind in ("FewShotConfig",) and isinstance(value, dict):
            value = _build(FewShotConfig, value)
        kwargs[name] = value
    return cls(**kwargs)


def load_demo_config(path: str | Path) -> DemoConfig:
    """Read a demo YAML file (keys as in :class:`DemoConfig`)."""
    values = yaml.safe_load(Path(path).read_text()) or {}
    return _build(DemoConfig, values)
