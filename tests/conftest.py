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


#: Test directories (relative to tests/) whose tests run whole jobs: trainings, workflows, benchmarks,
#: the shipped models, the pipelines/ scripts.
INTEGRATION_DIRS = ("integration", "pipelines", "training", "workflows")
#: Fixtures that train or meta-train a model: a test using one is an integration test.
TRAINED_FIXTURES = {"fewshot_models", "mhc_model", "hyper_model"}
#: The top-level test files: each tests one top-level module (or, test_layers, the package's imports).
UNIT_TOP_LEVEL = {"test___main__.py", "test_config.py", "test_errors.py", "test_files.py", "test_layers.py",
                  "test_parallel.py", "test_presets.py", "test_typed_configs.py"}


def pytest_collection_modifyitems(config, items):
    """Sort every test into one kind, so that ``pytest -m unit`` (seconds to minutes) can run
    alone: ``cli`` (tests/cli: the ``molprior`` command), ``integration`` (tests/training,
    tests/workflows, tests/integration, tests/pipelines, anything marked ``slow`` or using a
    trained model fixture) and ``unit`` (the rest: one module's behaviour)."""
    tests = Path(__file__).resolve().parent
    for item in items:
        parts = Path(str(item.fspath)).resolve().relative_to(tests).parts
        whole_job = (parts[0] in INTEGRATION_DIRS or (len(parts) == 1 and parts[0] not in UNIT_TOP_LEVEL)
                     or item.get_closest_marker("slow") is not None
                     or bool(TRAINED_FIXTURES & set(getattr(item, "fixturenames", ()))))
        item.add_marker("cli" if parts[0] == "cli" else "integration" if whole_job else "unit")


@pytest.fixture(autouse=True)
def isolated_stores(tmp_path_factory, monkeypatch):
    """Point MLflow and the molprior caches at a fresh temporary directory (and drop a tracking
    URI an earlier test in this process set with ``mlflow.set_tracking_uri``, which would win
    over the variable)."""
    import sys

    base = tmp_path_factory.mktemp("stores")
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(None)
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
    from molprior.config import MetaTrainConfig, load_yaml_config
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
        config = load_yaml_config(MetaTrainConfig, config_file, input=str(long_file(base / "assays.csv")), val_assays=VAL,
                                       test_assays=TEST)
        meta = run_metatraining(config, base / "meta", progress=False).model_dir
        adapted = run_adapt(meta, support_file(base / "support.csv", n=32), base / "adapted").model_dir
    return meta, adapted


@pytest.fixture(scope="session")
def hyper_model(tmp_path_factory):
    """A tiny hyper_maml model with its zero-shot heads: a hypernetwork head meta-trained (2
    epochs) on the shipped few-shot model's features over a piece of FS-Mol (24 described
    training tasks, 2 valid ones): ``(model_dir, data_file)``."""
    from dataclasses import replace

    from _fewshot import fsmol_subset
    from molprior.config import MetaTrainConfig, load_yaml_config
    from molprior.presets import config_path
    from molprior.workflows.metatrain import run_metatraining

    base = tmp_path_factory.mktemp("hyper-model")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        mp.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
        data = fsmol_subset(base / "fsmol")
        config = load_yaml_config(MetaTrainConfig, config_path("fsmol_hyper"), input=str(data), steps_per_epoch=5, tasks_per_step=4, query_size=32, support_sizes=[16],
                                  val_draws=2, trainer={"max_epochs": 2},
                                  zeroshot={"hyperclip": {"epochs": 30}, "hyperldm": {"epochs": 30, "steps": 20,
                                                                                      "samples": 4}})
        config = replace(config, leak_guard=None)  # the tiny piece of FS-Mol: no MoleculeACE to read
        model_dir = run_metatraining(config, base / "meta", progress=False).model_dir
    return model_dir, data


#: The alleles of the tiny MHC model: five trained on, HLA-B*35:01 held out as a "new allele".
MHC_ALLELES = ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*03:01", "HLA-B*07:02", "HLA-A*26:02"]
MHC_HELD_OUT = "HLA-B*35:01"


def _train_tiny_mhc(base: Path) -> None:
    """Train and register the tiny MHC model in ``base`` (real measurements, 2 short epochs)."""
    import pandas as pd

    from molprior.config import MHCTrainConfig
    from molprior.workflows.mhc_train import run_train_and_register

    table = pd.read_csv(DATA / "mhc" / "mhc_class1_human.csv.gz")
    parts = [table[table["allele"] == a].sample(250, random_state=0) for a in MHC_ALLELES]
    pd.concat(parts).to_csv(base / "mhc.csv", index=False)
    table[table["allele"] == MHC_HELD_OUT].sample(150, random_state=0).to_csv(base / "held_out.csv", index=False)
    config = MHCTrainConfig(data=str(base / "mhc.csv"), prior="default", held_out=[MHC_HELD_OUT],
                            val_alleles=["HLA-A*02:02", "HLA-A*26:02"], steps_per_epoch=5, tasks_per_step=4,
                            reference_per_length=200, finetune_min=200, finetune_epochs=2, val_draws=2,
                            trainer={"max_epochs": 2})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(base)  # MLflow puts a new sqlite store's artifacts under ./mlartifacts
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{base / 'mlflow.db'}")
        mp.setenv("MOLPRIOR_CACHE_DIR", str(base / "cache"))
        run_train_and_register(config, base / "train", "molprior-mhc-i", "champion", progress=False)
        import mlflow

        mlflow.set_tracking_uri(None)  # no process-wide URI left behind: tests set their own store
    (base / "done").touch()


@pytest.fixture(scope="session")
def mhc_model(tmp_path_factory):
    """A tiny MHC class I model trained once on real measurements (250 each of five alleles;
    meta-validation on HLA-A*02:02 and HLA-A*26:02) and registered as ``molprior-mhc-i@champion``:
    ``(model_dir, tracking_uri, held_out_csv)``, the last holding 150 real HLA-B*35:01
    measurements the model never saw.

    Under pytest-xdist the workers share one training run (file lock); each worker gets its own
    copy of the MLflow database, so the versions a test registers stay in its worker's store.
    The model directory is shared: tests copy it before altering anything in it."""
    import os
    import shutil

    from filelock import FileLock

    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "mhc-model"
        with FileLock(f"{shared}.lock"):
            if not (shared / "done").exists():
                shutil.rmtree(shared, ignore_errors=True)
                shared.mkdir()
                _train_tiny_mhc(shared)
        store = tmp_path_factory.mktemp("mhc-store")
        shutil.copyfile(shared / "mlflow.db", store / "mlflow.db")
    else:
        shared = store = tmp_path_factory.mktemp("mhc-model")
        _train_tiny_mhc(shared)
    return shared / "train" / "model", f"sqlite:///{store / 'mlflow.db'}", shared / "held_out.csv"
