"""Generators and graph encoders (the prior): ``generator.safetensors`` + ``generator.json``
with the encoder alone under ``encoder/`` (``encoder.safetensors`` + ``encoder.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from molprior.chem.features import FEATURIZER_VERSION
from molprior.chem.tokenizer import SelfiesVocabulary
from molprior.files import write_manifest, write_text
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.generative import DecoderConfig, MoleculeVAE
from molprior.serialization.formats import load_weights_into, read_description, save_weights

GENERATOR_FORMAT = "molprior-generator/1"
ENCODER_FORMAT = "molprior-encoder/1"


def save_encoder(encoder: GraphEncoder, directory: str | Path, metadata: dict | None = None) -> Path:
    """Write ``encoder.safetensors`` and ``encoder.json`` into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(encoder, directory / "encoder.safetensors")
    description = {"format": ENCODER_FORMAT, "encoder": encoder.config.to_dict(),
                   "featurizer_version": FEATURIZER_VERSION, "metadata": metadata or {}}
    write_text(json.dumps(description, indent=2) + "\n", directory / "encoder.json")
    write_manifest(directory)
    return directory


def load_encoder(directory: str | Path) -> tuple[GraphEncoder, dict]:
    """The graph encoder saved in ``directory`` (an encoder or a generator directory)."""
    directory = Path(directory)
    if not (directory / "encoder.json").exists() and (directory / "encoder" / "encoder.json").exists():
        directory = directory / "encoder"
    description = read_description(directory / "encoder.json", ENCODER_FORMAT, "encoder.safetensors")
    encoder = GraphEncoder(EncoderConfig(**description["encoder"]))
    load_weights_into(encoder, directory / "encoder.safetensors")
    encoder.eval()
    return encoder, description.get("metadata", {})


def save_generator(model: MoleculeVAE, vocabulary: SelfiesVocabulary, directory: str | Path,
                   metadata: dict | None = None) -> Path:
    """Write the whole generator, and its encoder alone under ``encoder/``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    save_weights(model, directory / "generator.safetensors")
    description = {"format": GENERATOR_FORMAT, "encoder": model.encoder.config.to_dict(),
                   "decoder": model.decoder.config.to_dict(), "vocabulary": vocabulary.to_dict(),
                   "featurizer_version": FEATURIZER_VERSION, "metadata": metadata or {}}
    write_text(json.dumps(description, indent=2) + "\n", directory / "generator.json")
    save_encoder(model.encoder, directory / "encoder", metadata)
    write_manifest(directory)
    return directory


def load_generator(directory: str | Path) -> tuple[MoleculeVAE, SelfiesVocabulary, dict]:
    """The generator saved in ``directory``, in eval mode."""
    directory = Path(directory)
    description = read_description(directory / "generator.json", GENERATOR_FORMAT, "generator.safetensors")
    vocabulary = SelfiesVocabulary.from_dict(description["vocabulary"])
    model = MoleculeVAE(len(vocabulary), EncoderConfig(**description["encoder"]), DecoderConfig(**description["decoder"]))
    load_weights_into(model, directory / "generator.safetensors")
    model.eval()
    return model, vocabulary, description.get("metadata", {})
