"""Shared fixtures: every test gets its own MLflow store and molprior cache."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"


def pytest_configure(config):
    """One torch thread per test process: ``make test`` runs one process per core, and more
    threads than cores make small CPU models many times slower."""
    import torch

    torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def isolated_stores(tmp_path_factory, monkeypatch):
    """Point MLflow and the molprior caches at a fresh temporary directory."""
    base = tmp_path_factory.mktemp("stores")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
    monkeypatch.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
    monkeypatch.delenv("MOLPRIOR_DATA_MIRROR", raising=False)
    yield base


@pytest.fixture(scope="session")
def moleculeace_dir() -> Path:
    return DATA / "moleculeace"
