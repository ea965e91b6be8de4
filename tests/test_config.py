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
