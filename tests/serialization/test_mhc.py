"""Saving and loading MHC predictors: the round trip, the older format, checksums, and the
one-line errors of directories that are not a model (molprior.serialization.mhc)."""

from __future__ import annotations

import json
import re
import shutil

import numpy as np
import pytest
import torch

from molprior.files import ChecksumError, write_manifest
from molprior.serialization import ModelFormatError, load_predictor, save_predictor

TRAINED = ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*03:01", "HLA-A*26:02", "HLA-B*07:02"]
EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]


@pytest.fixture(scope="module")
def predictor(mhc_model):
    return load_predictor(mhc_model[0])


def test_save_and_load_round_trip(predictor, tmp_path):
    directory = save_predictor(predictor, tmp_path / "copy")
    files = sorted(p.name for p in directory.iterdir())
    assert files == ["adapters.safetensors", "alleles.safetensors", "checksums.json", "encoder", "mhc.json"]
    again = load_predictor(directory)
    assert again.supported == predictor.supported and again.alleles == predictor.alleles
    assert sorted(again.adapters) == sorted(predictor.adapters) == TRAINED
    for allele, adapter in predictor.adapters.items():
        assert all(torch.equal(again.adapters[allele][k], v) for k, v in adapter.items())
    assert again.metadata == predictor.metadata
    for allele in TRAINED:
        np.testing.assert_allclose(again.reference[allele], predictor.reference[allele], rtol=1e-6)
        np.testing.assert_array_equal(again.predict_ic50(EPITOPES, allele), predictor.predict_ic50(EPITOPES, allele))


def test_a_model_of_the_first_format_loads_without_adapters(mhc_model, tmp_path):
    """molprior-mhc/1 models (a shared body, heads only) still load."""
    from safetensors.torch import load_file

    copy = tmp_path / "model"
    shutil.copytree(mhc_model[0], copy)
    assert not any(k.startswith("bodies.") for k in load_file(str(copy / "alleles.safetensors")))
    (copy / "adapters.safetensors").unlink()
    description = json.loads((copy / "mhc.json").read_text())
    (copy / "mhc.json").write_text(json.dumps({**description, "format": "molprior-mhc/1"}))
    write_manifest(copy)
    old = load_predictor(copy)
    assert old.adapters == {} and old.supported == TRAINED
    body = old.body(EPITOPES)
    expected = torch.sigmoid(torch.func.functional_call(old.learner.model.head, old.head("HLA-A*02:01"),
                                                        (body.shared,))).numpy()
    np.testing.assert_allclose(old.scores_from_body(body, "HLA-A*02:01"), expected, rtol=1e-6)


def test_a_flipped_byte_is_refused(mhc_model, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(mhc_model[0], copy)
    weights = copy / "alleles.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="alleles.safetensors"):
        load_predictor(copy)


def test_not_a_model_directory(mhc_model, tmp_path):
    with pytest.raises(ModelFormatError, match="no mhc.json"):
        load_predictor(tmp_path)
    copy = tmp_path / "model"
    shutil.copytree(mhc_model[0], copy)
    description = json.loads((copy / "mhc.json").read_text())
    (copy / "mhc.json").write_text(json.dumps({**description, "format": "molprior-mhc/99"}))
    write_manifest(copy)
    with pytest.raises(ModelFormatError, match="molprior-mhc/99"):
        load_predictor(copy)


@pytest.fixture
def shipped_copy(tmp_path):
    """A copy of the shipped MHC model (small, already trained: these tests need no training)."""
    from molprior.tracking.artifacts import SHIPPED_MHC

    copy = tmp_path / "mhc"
    shutil.copytree(SHIPPED_MHC, copy)
    return copy


@pytest.mark.parametrize("where", [".", "encoder"])
def test_a_model_without_its_manifest_is_refused(shipped_copy, where):
    (shipped_copy / where / "checksums.json").unlink()
    directory = shipped_copy / "encoder" if where == "encoder" else shipped_copy
    with pytest.raises(ChecksumError, match=re.escape(f"{directory} has no checksums.json")):
        load_predictor(shipped_copy)


@pytest.mark.parametrize("name", ["alleles.safetensors", "adapters.safetensors", "encoder/encoder.safetensors"])
def test_weights_that_are_not_safetensors_are_a_one_line_error_naming_the_file(shipped_copy, name):
    path = shipped_copy / name
    torch.save({"weights": torch.zeros(3)}, path)  # a pickle under the name, with matching manifests
    write_manifest(path.parent)
    write_manifest(shipped_copy)
    message = re.escape(f"{path}: not a readable safetensors weights file")
    with pytest.raises(ModelFormatError, match=message) as caught:
        load_predictor(shipped_copy)
    assert "\n" not in str(caught.value)


def test_a_corrupt_description_names_the_file_and_the_json_problem(shipped_copy):
    path = shipped_copy / "mhc.json"
    path.write_text(path.read_text().replace('"format"', '"format" "', 1))
    write_manifest(shipped_copy)
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: corrupt JSON (") + r".*line 2 column \d+"):
        load_predictor(shipped_copy)
