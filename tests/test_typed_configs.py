"""Typed configurations inside typed configurations: a mapping becomes the nested configuration
key by key over the field's default, at any depth; unknown keys are refused with the known
ones; partial settings merge into partial settings the same way."""

import pytest

from molprior.config import MetaTrainConfig, MHCTrainConfig, PipelineConfig, load_yaml_config
from molprior.errors import InputError
from molprior.meta.learner import LearnerConfig
from molprior.meta.maml import MAMLConfig
from molprior.training.trainer import TrainerConfig
from molprior.typed_configs import config_type, merged, merged_mappings


def test_a_nested_mapping_changes_only_the_keys_it_names_at_any_depth():
    config = MetaTrainConfig(trainer={"max_epochs": 2}, learner={"maml": {"inner_steps": 3}})
    assert isinstance(config.trainer, TrainerConfig) and isinstance(config.learner.maml, MAMLConfig)
    default = MetaTrainConfig()
    # the job's own defaults stay where the mapping says nothing (not the part's class defaults)
    assert config.trainer.max_epochs == 2 and config.trainer.patience == default.trainer.patience == 3
    assert config.trainer.gradient_clip_val is None != TrainerConfig().gradient_clip_val
    assert config.learner.maml == MAMLConfig(anil=True, inner_steps=3, inner_lr=0.05)
    assert config.learner.algorithm == "maml" and config.head == default.head


def test_a_field_that_defaults_to_none_takes_its_configuration_from_a_mapping():
    assert MetaTrainConfig().encoder is None and PipelineConfig().pretrain is None
    config = MetaTrainConfig(encoder={"hidden_dim": 16})
    assert config.encoder.hidden_dim == 16 and config.encoder.num_layers == 4
    assert PipelineConfig(pretrain={"max_molecules": 10}).pretrain.trainer == TrainerConfig()


def test_an_unknown_key_is_refused_with_the_known_ones():
    with pytest.raises(InputError, match=r"unknown MAMLConfig keys \['inner_step'\]; known: \['anil', "):
        MetaTrainConfig(learner={"maml": {"inner_step": 3}})
    with pytest.raises(InputError, match=r"unknown TrainerConfig keys \['epochs'\]"):
        merged(MHCTrainConfig(), {"trainer": {"epochs": 3}})


def test_merged_keeps_the_base_and_a_saved_configuration_reads_back_equal():
    base = MHCTrainConfig()
    changed = merged(base, {"maml": {"inner_lr": 0.1}, "seed": 3})
    assert base.maml.inner_lr == 0.5 and changed.maml == MAMLConfig(anil=True, inner_steps=20, inner_lr=0.1)
    from dataclasses import asdict

    assert MHCTrainConfig(**asdict(changed)) == changed
    old_model = {"algorithm": "maml", "maml": {"anil": True}}  # a model saved with only what it set
    assert LearnerConfig(**old_model).maml == MAMLConfig(anil=True)


def test_settings_merge_into_settings_key_by_key():
    base = {"trainer": {"max_epochs": 4, "patience": 4}, "val_draws": 3}
    assert merged_mappings(base, {"trainer": {"max_epochs": 9}, "query_size": 8}) == {
        "trainer": {"max_epochs": 9, "patience": 4}, "val_draws": 3, "query_size": 8}
    assert base["trainer"] == {"max_epochs": 4, "patience": 4}


def test_command_line_overrides_leave_unset_flags_alone(tmp_path):
    settings = tmp_path / "settings.yaml"
    settings.write_text("trainer:\n  patience: 9\nlearner:\n  maml:\n    inner_lr: 0.2\n")
    config = load_yaml_config(MetaTrainConfig, settings, trainer={"max_epochs": None},
                              learner={"algorithm": None, "maml": {"inner_steps": 7, "anil": None}})
    assert (config.trainer.patience, config.trainer.max_epochs) == (9, 6)
    assert config.learner.maml == MAMLConfig(anil=True, inner_steps=7, inner_lr=0.2)


def test_config_type_reads_a_fields_annotation():
    assert config_type(TrainerConfig) is TrainerConfig
    assert config_type(TrainerConfig | None) is TrainerConfig
    assert config_type(int) is None and config_type(dict[str, int]) is None and config_type(list[str] | None) is None
