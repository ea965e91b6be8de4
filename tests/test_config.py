from pathlib import Path

import pytest

from molprior.config import FewShotConfig, MetaTrainConfig, PipelineConfig, load_yaml_config
from molprior.presets import PRESETS_DIR

ROOT = Path(__file__).resolve().parents[1]


def test_shipped_demo_config_loads():
    config = load_yaml_config(PipelineConfig, PRESETS_DIR / "demo.yaml")
    assert isinstance(config.fewshot, FewShotConfig)
    assert len(config.fewshot.test_assays) == 8
    assert config.fewshot.support_sizes == [16, 32, 64]
    assert all((ROOT / "data" / "moleculeace" / f"{a}.csv").exists() for a in config.fewshot.test_assays)


def test_unknown_key_is_reported(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("fewshot:\n  draws: 2\n  drawz: 3\n")
    with pytest.raises(ValueError, match="drawz"):
        load_yaml_config(PipelineConfig, path)


@pytest.mark.parametrize("name", ["metatrain.yaml", "fsmol_adkf.yaml", "fsmol_adkf_scratch.yaml",
                                  "fsmol_multitask.yaml", "fsmol_multitask_adkf.yaml", "fsmol_hyper.yaml"])
def test_shipped_metatrain_configs_load(name):
    config = load_yaml_config(MetaTrainConfig, PRESETS_DIR / name)
    assert config.objective in ("episodic", "multitask") and config.val_assays


def test_the_hyper_preset_is_the_benchmarks_hyper_maml_recipe():
    from molprior.config import HYPER_METATRAIN
    from molprior.typed_configs import merged

    preset = load_yaml_config(MetaTrainConfig, PRESETS_DIR / "fsmol_hyper.yaml")
    recipe = merged(MetaTrainConfig(), HYPER_METATRAIN)
    for key in HYPER_METATRAIN:
        assert getattr(preset, key) == getattr(recipe, key), key


def test_an_unknown_multitask_key_is_reported_when_the_config_is_read(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("objective: multitask\nmultitask:\n  batch: 64\n")
    with pytest.raises(ValueError, match=r"unknown MultitaskConfig keys \['batch'\]"):
        load_yaml_config(MetaTrainConfig, path)


def _config_classes():
    from molprior.config import MHCTrainConfig, PretrainConfig
    from molprior.workflows.mhc_benchmark import MHCBenchmarkConfig

    return {"demo.yaml": PipelineConfig, "pretrain.yaml": PretrainConfig, "pretrain_peptides.yaml": PretrainConfig,
            "mhc.yaml": MHCTrainConfig, "mhc_benchmark.yaml": MHCBenchmarkConfig, "metatrain.yaml": MetaTrainConfig,
            "fsmol_adkf.yaml": MetaTrainConfig, "fsmol_adkf_scratch.yaml": MetaTrainConfig,
            "fsmol_multitask.yaml": MetaTrainConfig, "fsmol_multitask_adkf.yaml": MetaTrainConfig,
            "fsmol_hyper.yaml": MetaTrainConfig}


def test_every_shipped_configuration_is_read_by_its_typed_class():
    classes = _config_classes()
    assert sorted(p.name for p in PRESETS_DIR.glob("*.yaml")) == sorted(classes)
    for name, cls in classes.items():
        assert isinstance(load_yaml_config(cls, PRESETS_DIR / name), cls), name


def test_defaults_overrides_and_unreadable_files(tmp_path):
    from molprior.errors import InputError, MissingError

    assert load_yaml_config(MetaTrainConfig, None) == MetaTrainConfig()
    assert load_yaml_config(MetaTrainConfig, None, seed=3, prior=None).seed == 3  # None: not given
    with pytest.raises(MissingError, match="no such configuration file"):
        load_yaml_config(MetaTrainConfig, tmp_path / "absent.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(InputError, match="expected a mapping of settings"):
        load_yaml_config(MetaTrainConfig, tmp_path / "list.yaml")
    (tmp_path / "broken.yaml").write_text("seed: [1, 2\n")
    with pytest.raises(InputError, match="broken.yaml: not valid YAML"):
        load_yaml_config(MetaTrainConfig, tmp_path / "broken.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing set\n")
    assert load_yaml_config(MetaTrainConfig, tmp_path / "empty.yaml") == MetaTrainConfig()


def test_a_runs_settings_file_reads_back_into_the_same_configuration(tmp_path):
    from molprior.config import SETTINGS_FILE, MHCTrainConfig, PretrainConfig, write_settings
    from molprior.workflows.mhc_benchmark import MHCBenchmarkConfig

    for cls, name in [(PipelineConfig, "demo.yaml"), (MetaTrainConfig, "fsmol_multitask_adkf.yaml"),
                      (PretrainConfig, "pretrain.yaml"), (MHCTrainConfig, "mhc.yaml"),
                      (MHCBenchmarkConfig, "mhc_benchmark.yaml")]:
        config = load_yaml_config(cls, PRESETS_DIR / name)
        path = write_settings(config, tmp_path / name, "molprior something --config {settings} -o {dir}")
        assert path == tmp_path / name / SETTINGS_FILE
        assert path.read_text().startswith(f"# The settings of this run ({cls.__name__}); run it again with: "
                                           f"molprior something --config {path} -o {tmp_path / name}\n")
        assert load_yaml_config(cls, path) == config, name
