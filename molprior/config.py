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
    """What ``molprior demo`` runs."""

    fewshot: FewShotConfig = field(default_factory=FewShotConfig)
    output: str = "demo-output"
    jobs: int = -1


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
