import json

import pytest
import torch
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.chem.tokenizer import SelfiesVocabulary, smiles_to_selfies_tokens
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE
from molprior.files import ChecksumError, verify_manifest, write_manifest
from molprior.tracking.artifacts import resolve_model_dir
from molprior.training.export import ModelFormatError, load_encoder, load_generator, save_generator

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
    with pytest.raises(FileNotFoundError, match="not a molprior model"):
        resolve_model_dir(tmp_path)
    with pytest.raises(FileNotFoundError, match="no such model directory"):
        resolve_model_dir(tmp_path / "absent")
