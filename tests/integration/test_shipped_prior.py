"""The prior shipped with molprior loads by default, generates valid molecules and embeds."""

import torch
from rdkit import Chem
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.metrics.generation import generation_metrics
from molprior.tracking.artifacts import SHIPPED_PRIOR, resolve_model_dir
from molprior.models.generative import sample_smiles
from molprior.serialization import load_encoder, load_generator


def test_shipped_prior_is_the_default_and_generates():
    directory = resolve_model_dir(None)
    assert directory == SHIPPED_PRIOR and (directory / "MODEL_CARD.md").exists()
    model, vocabulary, metadata = load_generator(directory)
    assert metadata["corpus_molecules"] >= 50_000
    samples = sample_smiles(model, vocabulary, 200, seed=0)
    metrics = generation_metrics(samples)
    assert metrics["validity"] >= 0.95 and metrics["uniqueness"] >= 0.9
    assert all(Chem.MolFromSmiles(s) is not None for s in samples if s)


def test_shipped_encoder_embeds_and_tells_molecules_apart():
    encoder, _ = load_encoder(resolve_model_dir(None, kind="encoder"))
    smiles = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Oc1ccccc1C(=O)OC", "CCCCCCCCCCCCCCCC(=O)O"]
    batch = Batch.from_data_list(featurize_smiles(smiles).graphs.to_data_list())
    with torch.no_grad():
        embedding = encoder.embed(batch)
    assert embedding.shape == (3, encoder.config.output_dim)
    close = torch.dist(embedding[0], embedding[1])
    far = torch.dist(embedding[0], embedding[2])
    assert close < far  # aspirin is nearer its methyl ester than palmitic acid
