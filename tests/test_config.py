from pathlib import Path

import pytest

from molprior.config import FewShotConfig, load_pipeline_config

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_demo_config_loads():
    config = load_pipeline_config(ROOT / "pipelines" / "configs" / "demo.yaml")
    assert isinstance(config.fewshot, FewShotConfig)
    assert len(config.fewshot.test_assays) == 8
    assert config.fewshot.support_sizes == [16, 32, 64]
    assert all((ROOT / "data" / "moleculeace" / f"{a}.csv").exists() for a in config.fewshot.test_assays)


def test_unknown_key_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("fewshot:\n  draws: 2\n  drawz: 3\n")
    with pytest.raises(ValueError, match="drawz"):
        load_pipeline_config(path)


@pytest.mark.parametrize("name", ["metatrain.yaml", "fsmol_adkf.yaml", "fsmol_adkf_scratch.yaml",
                                  "fsmol_multitask.yaml", "fsmol_multitask_adkf.yaml"])
def test_shipped_metatrain_configs_load(name):
    from molprior.config import load_metatrain_config

    config = load_metatrain_config(ROOT / "pipelines" / "configs" / name)
    assert config.objective in ("episodic", "multitask") and config.val_assays


def test_an_unknown_multitask_key_is_reported_when_the_config_is_read(tmp_path):
    from molprior.config import load_metatrain_config

    path = tmp_path / "bad.yaml"
    path.write_text("objective: multitask\nmultitask:\n  batch: 64\n")
    with pytest.raises(ValueError, match=r"unknown MultitaskConfig keys \['batch'\]"):
        load_metatrain_config(path)
