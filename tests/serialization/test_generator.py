import json
import re

import pytest
import torch
from safetensors.torch import save_file
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.chem.tokenizer import SelfiesVocabulary, smiles_to_selfies_tokens
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE
from molprior.files import ChecksumError, verify_manifest, write_manifest
from molprior.tracking.artifacts import resolve_model_dir
from molprior.serialization import (ModelFormatError, load_encoder, load_generator, load_learner,
                                      save_generator, save_learner)

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(=O)Nc1ccc(O)cc1"]


@pytest.fixture
def saved(tmp_path):
    vocabulary = SelfiesVocabulary.build([smiles_to_selfies_tokens(s) for s in DRUGS], 40)
    torch.manual_seed(0)
    model = MoleculeVAE(len(vocabulary), EncoderConfig(hidden_dim=16, num_layers=2, readout="mean+max"),
                        DecoderConfig(latent_dim=8, hidden_dim=32, embedding_dim=8)).eval()
    save_generator(model, vocabulary, tmp_path / "model", {"note": "unit test"})
    return model, vocabulary, tmp_path / "model"


def test_reloaded_encoder_gives_identical_embeddings(saved):
    model, _, directory = saved
    batch = Batch.from_data_list(featurize_smiles(featurize_smiles(DRUGS, canonical=False).graphs.smiles).graphs.to_data_list())
    encoder, metadata = load_encoder(directory)  # finds encoder/ inside a generator directory
    assert metadata == {"note": "unit test"}
    with torch.no_grad():
        assert torch.equal(model.encoder.embed(batch), encoder.embed(batch))


def test_reloaded_generator_samples_the_same(saved):
    model, vocabulary, directory = saved
    again, vocabulary_again, _ = load_generator(directory)
    assert vocabulary_again.tokens == vocabulary.tokens
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.decoder.generate(z, 10, 1, 2, greedy=True), again.decoder.generate(z, 10, 1, 2, greedy=True))


def test_weights_are_safetensors_not_pickles(saved):
    _, _, directory = saved
    for name in ("generator.safetensors", "encoder/encoder.safetensors"):
        head = (directory / name).read_bytes()[:16]
        assert not head.startswith(b"\x80")  # a pickle starts with the PROTO opcode
        header_length = int.from_bytes(head[:8], "little")
        assert json.loads((directory / name).read_bytes()[8 : 8 + header_length])  # safetensors JSON header


def test_featuriser_version_mismatch_is_refused(saved):
    _, _, directory = saved
    description = json.loads((directory / "encoder" / "encoder.json").read_text())
    description["featurizer_version"] = "ogb-0"
    (directory / "encoder" / "encoder.json").write_text(json.dumps(description))
    write_manifest(directory / "encoder")  # a consistent model, only from another featuriser
    with pytest.raises(ModelFormatError, match="ogb-0"):
        load_encoder(directory / "encoder")


def test_altered_or_missing_files_fail_their_checksums_before_loading(saved):
    _, _, directory = saved
    weights = directory / "generator.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF  # one flipped byte in the weights
    weights.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match=r"changed: \['generator.safetensors'\]"):
        load_generator(directory)
    (directory / "encoder" / "encoder.safetensors").unlink()
    with pytest.raises(ChecksumError, match=r"missing: \['encoder.safetensors'\]"):
        load_encoder(directory / "encoder")


def test_the_shipped_prior_passes_its_checksums():
    assert verify_manifest(resolve_model_dir(None), required=True)
    assert verify_manifest(resolve_model_dir(None) / "encoder", required=True)


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelFormatError, match="not a molprior model directory"):
        load_generator(tmp_path)
    with pytest.raises(FileNotFoundError, match="holds no generator.json: not a molprior generator model"):
        resolve_model_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="holds no mhc.json: not a molprior MHC model"):
        resolve_model_dir(tmp_path, "mhc")
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        resolve_model_dir(tmp_path / "absent")


@pytest.fixture
def fewshot_dir(tmp_path):
    """A tiny few-shot model written by :func:`save_learner` (what ``molprior metatrain`` writes)."""
    from molprior.meta.learner import FewShotLearner, LearnerConfig
    from molprior.models.encoder import GraphEncoder
    from molprior.models.heads import HeadConfig, TaskModel

    torch.manual_seed(0)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=2)), HeadConfig(hidden_dim=16))
    return save_learner(FewShotLearner(model, LearnerConfig()), tmp_path / "fewshot")


def _loaders(saved, fewshot_dir):
    """(model directory, its description, its weights, loader) for every kind molprior writes."""
    directory = saved[2]
    return [(directory, "generator.json", "generator.safetensors", load_generator),
            (directory / "encoder", "encoder.json", "encoder.safetensors", load_encoder),
            (fewshot_dir, "model.json", "model.safetensors", load_learner)]


def test_every_written_model_has_a_manifest_and_loads(saved, fewshot_dir):
    for directory, _, _, load in _loaders(saved, fewshot_dir):
        assert verify_manifest(directory)
        load(directory)


def test_a_model_without_its_manifest_is_refused(saved, fewshot_dir):
    """Deleting checksums.json does not switch the integrity check off."""
    for directory, _, _, load in _loaders(saved, fewshot_dir):
        (directory / "checksums.json").unlink()
        with pytest.raises(ChecksumError, match=re.escape(f"{directory} has no checksums.json")):
            load(directory)


def test_a_manifest_that_leaves_the_weights_out_is_refused(saved, fewshot_dir):
    for directory, description, weights, load in _loaders(saved, fewshot_dir):
        manifest = json.loads((directory / "checksums.json").read_text())
        del manifest["sha256"][weights]
        (directory / "checksums.json").write_text(json.dumps(manifest))
        with pytest.raises(ChecksumError, match=f"does not list \\['{weights}'\\]"):
            load(directory)


def test_a_corrupt_manifest_names_itself(saved):
    directory = saved[2]
    (directory / "checksums.json").write_text('{"sha256": {"generator.json": ')
    with pytest.raises(ChecksumError, match=re.escape(f"{directory / 'checksums.json'}: corrupt manifest")):
        load_generator(directory)


@pytest.mark.parametrize("content", ["text", "pickle", "truncated", "empty"])
def test_weights_that_are_not_safetensors_are_a_one_line_error_naming_the_file(saved, fewshot_dir, content):
    """Even with a manifest rewritten to match (someone replaced both), a weights file that is
    not safetensors is a ModelFormatError naming it, not a safetensors traceback."""
    for directory, _, weights, load in _loaders(saved, fewshot_dir):
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


def test_weights_of_another_model_are_a_one_line_error_naming_the_file(saved):
    directory = saved[2]
    save_file({"unrelated": torch.zeros(2)}, str(directory / "generator.safetensors"))
    write_manifest(directory)
    with pytest.raises(ModelFormatError, match="generator.safetensors: the weights do not fit") as caught:
        load_generator(directory)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["generator.json", "encoder/encoder.json", "model.json"])
def test_a_corrupt_description_names_the_file_and_the_json_problem(saved, fewshot_dir, name):
    directory = fewshot_dir if name == "model.json" else saved[2]
    path = directory / name
    path.write_text(path.read_text()[:40])  # cut short, as an interrupted copy would be
    write_manifest(path.parent)
    load = {"generator.json": load_generator, "encoder/encoder.json": load_encoder, "model.json": load_learner}[name]
    with pytest.raises(ModelFormatError, match=re.escape(f"{path}: corrupt JSON (") + r".* line \d+ column \d+"):
        load(path.parent)


def test_a_description_that_is_not_a_json_object_is_refused(saved):
    path = saved[2] / "generator.json"
    path.write_text("[1, 2]\n")
    write_manifest(saved[2])
    with pytest.raises(ModelFormatError, match="expected a JSON object, found a JSON list"):
        load_generator(saved[2])
