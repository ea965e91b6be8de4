"""The packaged presets: chosen by name, a user's file first, the old paths still read."""

from __future__ import annotations

import pytest

from molprior.errors import MissingError
from molprior.presets import PRESETS_DIR, config_path, presets


def test_a_preset_is_found_by_name_with_or_without_suffix_and_by_its_old_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pipelines/ here: what a user of an installed molprior has
    assert "fsmol_adkf" in presets() and "mhc_benchmark" in presets()
    expected = PRESETS_DIR / "fsmol_adkf.yaml"
    assert config_path("fsmol_adkf") == config_path("fsmol_adkf.yaml") == expected
    assert config_path("pipelines/configs/fsmol_adkf.yaml") == expected


def test_a_users_file_comes_first_and_a_missing_path_is_not_taken_for_a_preset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "metatrain.yaml").write_text("epochs: 1\n")
    assert config_path("metatrain.yaml").resolve() == (tmp_path / "metatrain.yaml").resolve()
    with pytest.raises(MissingError, match=r"runs/a/metatrain.yaml \(presets: demo, fsmol_adkf"):
        config_path("runs/a/metatrain.yaml")
    with pytest.raises(MissingError, match="no such configuration file or preset: fsmol"):
        config_path("fsmol")
