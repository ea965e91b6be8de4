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


@pytest.fixture(scope="session")
def fewshot_models(tmp_path_factory):
    """A tiny meta-trained model (real assays, 1 epoch) and that model adapted to 32 molecules
    of a held-out assay: ``(meta_dir, adapted_dir)``, shared by the inference, pyfunc,
    registry, serving and Spark tests."""
    import yaml

    from _fewshot import TEST, TINY, VAL, long_file, support_file
    from molprior.config import load_metatrain_config
    from molprior.workflows.adapt import run_adapt
    from molprior.workflows.metatrain import run_metatraining

    base = tmp_path_factory.mktemp("fewshot-models")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        mp.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
        config_file = base / "metatrain.yaml"
        config_file.write_text(yaml.safe_dump({**TINY, "trainer": {"max_epochs": 1},
                                               "learner": {"algorithm": "maml", "maml": {"first_order": True, "inner_steps": 2}}}))
        config = load_metatrain_config(config_file, input=str(long_file(base / "assays.csv")), val_assays=VAL,
                                       test_assays=TEST)
        meta = run_metatraining(config, base / "meta", progress=False).model_dir
        adapted = run_adapt(meta, support_file(base / "support.csv", n=32), base / "adapted").model_dir
    return meta, adapted
