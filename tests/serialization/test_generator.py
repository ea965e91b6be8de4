"""Saving and loading generators and their graph encoders (molprior.serialization.generator):
identical embeddings and samples after a round trip, safetensors weights, checksums, and
directories that are not a generator.  What every kind of model shares (manifests, weights
that are not safetensors, corrupt descriptions) is in test_formats.py."""

import json
import re

import pytest
import torch
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.files import ChecksumError, verify_manifest
from molprior.tracking.artifacts import resolve_model_dir
from molprior.serialization import ModelFormatError, load_encoder, load_generator

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(=O)Nc1ccc(O)cc1"]


def test_reloaded_encoder_gives_identical_embeddings(saved_generator):
    model, _, directory = saved_generator
    batch = Batch.from_data_list(featurize_smiles(featurize_smiles(DRUGS, canonical=False).graphs.smiles).graphs.to_data_list())
    encoder, metadata = load_encoder(directory)  # finds encoder/ inside a generator directory
    assert metadata == {"note": "unit test"}
    with torch.no_grad():
        assert torch.equal(model.encoder.embed(batch), encoder.embed(batch))


def test_reloaded_generator_samples_the_same(saved_generator):
    model, vocabulary, directory = saved_generator
    again, vocabulary_again, _ = load_generator(directory)
    assert vocabulary_again.tokens == vocabulary.tokens
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(0))
    assert torch.equal(model.decoder.generate(z, 10, 1, 2, greedy=True), again.decoder.generate(z, 10, 1, 2, greedy=True))


def test_weights_are_safetensors_not_pickles(saved_generator):
    _, _, directory = saved_generator
    for name in ("generator.safetensors", "encoder/encoder.safetensors"):
        head = (directory / name).read_bytes()[:16]
        assert not head.startswith(b"\x80")  # a pickle starts with the PROTO opcode
        header_length = int.from_bytes(head[:8], "little")
        assert json.loads((directory / name).read_bytes()[8 : 8 + header_length])  # safetensors JSON header


def test_altered_or_missing_files_fail_their_checksums_before_loading(saved_generator):
    _, _, directory = saved_generator
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


def test_a_corrupt_manifest_names_itself(saved_generator):
    directory = saved_generator[2]
    (directory / "checksums.json").write_text('{"sha256": {"generator.json": ')
    with pytest.raises(ChecksumError, match=re.escape(f"{directory / 'checksums.json'}: corrupt manifest")):
        load_generator(directory)
