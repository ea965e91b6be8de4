"""What every model directory shares (molprior.serialization.formats): safetensors weights
that load back bit for bit, JSON descriptions, the checksum manifest checked before anything
is read, and a one-line :class:`ModelFormatError` naming the file for whatever is not a model
molprior can load, the same through every kind's loader."""

import json
import re

import pytest
import torch
from safetensors.torch import save_file

from molprior.errors import InputError
from molprior.files import ChecksumError, verify_manifest, write_manifest
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.serialization import (FEWSHOT_FORMAT, ModelFormatError, load_encoder, load_generator, load_learner,
                                    load_weights, load_weights_into, read_description, read_json_object,
                                    save_weights)


def _encoder(hidden_dim: int = 16, seed: int = 0) -> GraphEncoder:
    torch.manual_seed(seed)
    return GraphEncoder(EncoderConfig(hidden_dim=hidden_dim, num_layers=2))


def test_saved_weights_load_back_bit_for_bit_even_from_a_non_contiguous_parameter(tmp_path):
    """safetensors refuses non-contiguous tensors; save_weights writes them all the same, atomically."""
    module = torch.nn.ModuleDict({"encoder": _encoder(), "projection": torch.nn.Linear(16, 4)})
    module["projection"].weight = torch.nn.Parameter(torch.randn(16, 4).t())  # a transposed view
    assert not module["projection"].weight.is_contiguous()
    path = tmp_path / "weights.safetensors"
    save_weights(module, path)
    assert [p.name for p in tmp_path.iterdir()] == ["weights.safetensors"]  # no temporary file left
    tensors = load_weights(path)
    assert sorted(tensors) == sorted(module.state_dict())
    assert all(torch.equal(tensors[k], v) for k, v in module.state_dict().items())
    fresh = torch.nn.ModuleDict({"encoder": _encoder(seed=1), "projection": torch.nn.Linear(16, 4)})
    load_weights_into(fresh, path)
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in module.state_dict().items())


def test_tensors_already_read_are_loaded_without_reading_the_file_again(tmp_path):
    """What load_learner does once it has taken an adapted model's per-task tensors out."""
    source = _encoder()
    fresh = _encoder(seed=1)
    load_weights_into(fresh, tmp_path / "never-read.safetensors", source.state_dict())
    assert all(torch.equal(fresh.state_dict()[k], v) for k, v in source.state_dict().items())


@pytest.mark.parametrize("where", ["missing", "a directory"])
def test_weights_that_cannot_be_read_are_a_model_format_error_naming_the_file(tmp_path, where):
    path = tmp_path / "model.safetensors"
    if where == "a directory":
        path.mkdir()
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: cannot read the weights (")) as caught:
        load_weights(path)
    assert isinstance(caught.value, InputError)  # the user's to fix: the command exits 2 with the message


def test_weights_of_another_shape_are_one_line_cut_short(tmp_path):
    """Every mismatched tensor of a wider encoder, in at most 300 characters of detail."""
    path = tmp_path / "encoder.safetensors"
    save_weights(_encoder(hidden_dim=32), path)
    with pytest.raises(ModelFormatError) as caught:
        load_weights_into(_encoder(hidden_dim=16), path)
    message = str(caught.value)
    assert message.startswith(f"{path}: the weights do not fit the model its description declares (")
    assert "size mismatch" in message and message.endswith("...)") and "\n" not in message
    assert len(message) <= len(f"{path}: the weights do not fit the model its description declares (...)") + 300


def test_a_json_object_is_read_and_anything_else_is_named(tmp_path):
    path = tmp_path / "model.json"
    path.write_text('{"format": "molprior-fewshot/1", "metadata": {"assay": "CHEMBL214_Ki"}}\n')
    assert read_json_object(path) == {"format": "molprior-fewshot/1", "metadata": {"assay": "CHEMBL214_Ki"}}
    path.write_text('"molprior-fewshot/1"\n')
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: expected a JSON object, found a JSON str")):
        read_json_object(path)
    path.write_text('{"format": "molprior-fewshot/1"}', encoding="utf-16")  # saved by a Windows editor
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: not a JSON text file (invalid start byte at byte 0)")):
        read_json_object(path)


def test_a_description_is_read_only_once_the_checksums_pass(fewshot_dir):
    """An altered description is a checksum failure, whatever it now holds."""
    path = fewshot_dir / "model.json"
    path.write_text(path.read_text()[:40])
    with pytest.raises(ChecksumError, match=r"changed: \['model.json'\]"):
        read_description(path, FEWSHOT_FORMAT, "model.safetensors")


def test_a_description_of_another_format_is_refused_naming_both(saved_generator, fewshot_dir):
    generator_json = saved_generator[2] / "generator.json"
    with pytest.raises(ModelFormatError, match=re.escape(
            f"{generator_json}: format 'molprior-generator/1', expected 'molprior-fewshot/1'")):
        read_description(generator_json, FEWSHOT_FORMAT, "generator.safetensors")
    path = fewshot_dir / "model.json"
    description = json.loads(path.read_text())
    del description["format"]
    path.write_text(json.dumps(description))
    write_manifest(fewshot_dir)
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: format None, expected 'molprior-fewshot/1'")):
        read_description(path, FEWSHOT_FORMAT, "model.safetensors")


def test_featuriser_version_mismatch_is_refused(saved_generator):
    _, _, directory = saved_generator
    description = json.loads((directory / "encoder" / "encoder.json").read_text())
    description["featurizer_version"] = "ogb-0"
    (directory / "encoder" / "encoder.json").write_text(json.dumps(description))
    write_manifest(directory / "encoder")  # a consistent model, only from another featuriser
    with pytest.raises(ModelFormatError, match="ogb-0"):
        load_encoder(directory / "encoder")


def _loaders(saved_generator, fewshot_dir):
    """(model directory, its description, its weights, loader) for every kind molprior writes."""
    directory = saved_generator[2]
    return [(directory, "generator.json", "generator.safetensors", load_generator),
            (directory / "encoder", "encoder.json", "encoder.safetensors", load_encoder),
            (fewshot_dir, "model.json", "model.safetensors", load_learner)]


def test_every_written_model_has_a_manifest_and_loads(saved_generator, fewshot_dir):
    for directory, _, _, load in _loaders(saved_generator, fewshot_dir):
        assert verify_manifest(directory)
        load(directory)


def test_a_model_without_its_manifest_is_refused(saved_generator, fewshot_dir):
    """Deleting checksums.json does not switch the integrity check off."""
    for directory, _, _, load in _loaders(saved_generator, fewshot_dir):
        (directory / "checksums.json").unlink()
        with pytest.raises(ChecksumError, match=re.escape(f"{directory} has no checksums.json")):
            load(directory)


def test_a_manifest_that_leaves_the_weights_out_is_refused(saved_generator, fewshot_dir):
    for directory, description, weights, load in _loaders(saved_generator, fewshot_dir):
        manifest = json.loads((directory / "checksums.json").read_text())
        del manifest["sha256"][weights]
        (directory / "checksums.json").write_text(json.dumps(manifest))
        with pytest.raises(ChecksumError, match=f"does not list \\['{weights}'\\]"):
            load(directory)


@pytest.mark.parametrize("content", ["text", "pickle", "truncated", "empty"])
def test_weights_that_are_not_safetensors_are_a_one_line_error_naming_the_file(saved_generator, fewshot_dir, content):
    """Even with a manifest rewritten to match (someone replaced both), a weights file that is
    not safetensors is a ModelFormatError naming it, not a safetensors traceback."""
    for directory, _, weights, load in _loaders(saved_generator, fewshot_dir):
        path = directory / weights
        if content == "text":
            path.write_text("these are not weights\n")
        elif content == "pickle":
            torch.save({"weight": torch.zeros(3)}, path)
        elif content == "truncated":
            path.write_bytes(path.read_bytes()[:-100])
        else:
            path.write_bytes(b"")
        write_manifest(directory)
        message = re.escape(f"{path}: not a readable safetensors weights file")
        with pytest.raises(ModelFormatError, match=message) as caught:
            load(directory)
        assert "\n" not in str(caught.value)


def test_weights_of_another_model_are_a_one_line_error_naming_the_file(saved_generator):
    directory = saved_generator[2]
    save_file({"unrelated": torch.zeros(2)}, str(directory / "generator.safetensors"))
    write_manifest(directory)
    with pytest.raises(ModelFormatError, match="generator.safetensors: the weights do not fit") as caught:
        load_generator(directory)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["generator.json", "encoder/encoder.json", "model.json"])
def test_a_corrupt_description_names_the_file_and_the_json_problem(saved_generator, fewshot_dir, name):
    directory = fewshot_dir if name == "model.json" else saved_generator[2]
    path = directory / name
    path.write_text(path.read_text()[:40])  # cut short, as an interrupted copy would be
    write_manifest(path.parent)
    load = {"generator.json": load_generator, "encoder/encoder.json": load_encoder, "model.json": load_learner}[name]
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: corrupt JSON (") + r".* line \d+ column \d+"):
        load(path.parent)


def test_a_description_that_is_not_a_json_object_is_refused(saved_generator):
    path = saved_generator[2] / "generator.json"
    path.write_text("[1, 2]\n")
    write_manifest(saved_generator[2])
    with pytest.raises(ModelFormatError, match="expected a JSON object, found a JSON list"):
        load_generator(saved_generator[2])



def test_a_missing_json_file_is_a_format_error_naming_it(tmp_path):
    with pytest.raises(ModelFormatError, match=r"heads\.json: missing"):
        read_json_object(tmp_path / "heads.json")
