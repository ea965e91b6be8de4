"""Small saved models shared by the serialization tests: a generator (with its encoder under
``encoder/``) and a few-shot model, each written by its own ``save_*`` function."""

from __future__ import annotations

import pytest
import torch

#: The molecules whose SELFIES tokens make the tiny generator's vocabulary.
VOCABULARY_MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(=O)Nc1ccc(O)cc1"]


@pytest.fixture
def saved_generator(tmp_path):
    """A tiny untrained generator saved by :func:`save_generator` (what ``molprior pretrain``
    writes): ``(model, vocabulary, directory)``."""
    from molprior.chem.tokenizer import SelfiesVocabulary, smiles_to_selfies_tokens
    from molprior.models.encoder import EncoderConfig
    from molprior.models.generative import DecoderConfig, MoleculeVAE
    from molprior.serialization import save_generator

    vocabulary = SelfiesVocabulary.build([smiles_to_selfies_tokens(s) for s in VOCABULARY_MOLECULES], 40)
    torch.manual_seed(0)
    model = MoleculeVAE(len(vocabulary), EncoderConfig(hidden_dim=16, num_layers=2, readout="mean+max"),
                        DecoderConfig(latent_dim=8, hidden_dim=32, embedding_dim=8)).eval()
    save_generator(model, vocabulary, tmp_path / "model", {"note": "unit test"})
    return model, vocabulary, tmp_path / "model"


@pytest.fixture
def fewshot_dir(tmp_path):
    """A tiny few-shot model written by :func:`save_learner` (what ``molprior metatrain`` writes)."""
    from molprior.meta.learner import FewShotLearner, LearnerConfig
    from molprior.models.encoder import EncoderConfig, GraphEncoder
    from molprior.models.heads import HeadConfig, TaskModel
    from molprior.serialization import save_learner

    torch.manual_seed(0)
    model = TaskModel(GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=2)), HeadConfig(hidden_dim=16))
    return save_learner(FewShotLearner(model, LearnerConfig()), tmp_path / "fewshot")
