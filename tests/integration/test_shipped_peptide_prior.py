"""The shipped peptide prior: it loads (checksums verified), continues the default prior, kept
the MHC benchmark's held-out alleles out of its corpus, and embeds peptides."""

from pathlib import Path

import torch
import yaml
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.immunology.peptides import peptide_to_smiles
from molprior.files import verify_manifest
from molprior.tracking.artifacts import SHIPPED_PRIOR
from molprior.serialization import load_encoder, load_generator
from molprior.presets import PRESETS_DIR

ROOT = Path(__file__).resolve().parents[2]
PEPTIDE_PRIOR = ROOT / "molprior" / "priors" / "peptide"


def test_peptide_prior_continues_the_default_prior_without_held_out_alleles():
    assert verify_manifest(PEPTIDE_PRIOR, required=True)
    assert (PEPTIDE_PRIOR / "MODEL_CARD.md").exists() and (PEPTIDE_PRIOR / "training_history.json").exists()
    model, vocabulary, metadata = load_generator(PEPTIDE_PRIOR)
    _, parent_vocabulary, _ = load_generator(SHIPPED_PRIOR)
    assert vocabulary.tokens[: len(parent_vocabulary)] == parent_vocabulary.tokens
    assert {"[C@@H1]", "[C@H1]"} <= set(vocabulary.tokens)
    assert metadata["parent_prior"]["directory"] == "molprior/priors/default"
    held_out = yaml.safe_load((PRESETS_DIR / "mhc_benchmark.yaml").read_text())["held_out"]
    assert metadata["peptide_corpus"]["excluded_alleles"] == held_out
    assert metadata["corpus_peptides"] == 25_798
    # every 8-11-mer fits the decoder
    assert vocabulary.max_length - 1 >= 192


def test_peptide_encoder_embeds_peptides_and_molecules():
    encoder, _ = load_encoder(PEPTIDE_PRIOR / "encoder")
    smiles = [peptide_to_smiles("SIINFEKL"), peptide_to_smiles("SIINFEKV"), "CC(=O)Oc1ccccc1C(=O)O"]
    batch = Batch.from_data_list(featurize_smiles(smiles).graphs.to_data_list())
    with torch.no_grad():
        embedding = encoder.embed(batch)
    assert embedding.shape == (3, encoder.config.output_dim) and torch.isfinite(embedding).all()
    assert torch.dist(embedding[0], embedding[1]) < torch.dist(embedding[0], embedding[2])
