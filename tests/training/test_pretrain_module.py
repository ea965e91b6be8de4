"""Continued pretraining: a generator grows to a larger SELFIES vocabulary without losing what
it knows, a continued run starts from its parent's weights, mixes in peptides, records its
parent, and resumes."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

from molprior.chem.featurize import featurize_smiles
from molprior.immunology.peptides import peptide_to_smiles
from molprior.chem.tokenizer import SelfiesVocabulary, smiles_to_selfies_tokens
from molprior.config import PretrainConfig
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE
from molprior.tracking.artifacts import SHIPPED_PRIOR
from molprior.serialization import load_generator, save_generator
from molprior.training.pretrain_data import GraphTokenDataset, collate
from molprior.training.pretrain_module import TOKEN_ROWS, PretrainModule, grow_vocabulary
from molprior.workflows.pretrain import load_parent, run_pretraining

ROOT = Path(__file__).resolve().parents[2]
MOSES = ROOT / "data" / "moses" / "moses_train_50k.csv.gz"
MHC = ROOT / "data" / "mhc" / "mhc_class1_human.csv.gz"
HELD = "HLA-B*35:01"


def _reconstruction_loss(model: MoleculeVAE, vocabulary: SelfiesVocabulary, smiles: list[str]) -> torch.Tensor:
    graphs = featurize_smiles(smiles).graphs
    graph_batch, inputs, targets = collate(list(GraphTokenDataset(graphs, [vocabulary.encode(s) for s in graphs.smiles])))
    model.eval()
    with torch.no_grad():
        logits, _, _ = model(graph_batch, inputs)
    return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=vocabulary.pad_id)


def test_growing_the_shipped_prior_keeps_its_weights_and_its_loss():
    model, vocabulary, _ = load_generator(SHIPPED_PRIOR)
    peptides = [smiles_to_selfies_tokens(peptide_to_smiles(p)) for p in ("SIINFEKL", "GILGFVFTL", "NLVPMVATV")]
    bigger = vocabulary.extend(peptides, 241)
    added = len(bigger) - len(vocabulary)
    assert bigger.tokens[len(vocabulary):] == ["[C@@H1]", "[C@H1]"]
    grown = grow_vocabulary(model, vocabulary, bigger)
    old, new = model.state_dict(), grown.state_dict()
    assert old.keys() == new.keys()
    for name, tensor in old.items():
        if name in TOKEN_ROWS:
            assert new[name].shape[0] == tensor.shape[0] + added
            assert torch.equal(new[name][: len(vocabulary)], tensor)  # old token rows untouched
            assert torch.isfinite(new[name]).all()
        else:
            assert torch.equal(new[name], tensor), name
    # the same molecules cost the grown model (almost) what they cost the parent
    molecules = pd.read_csv(MOSES)["smiles"].head(32).tolist()
    parent_loss = _reconstruction_loss(model, vocabulary, molecules)
    grown_loss = _reconstruction_loss(grown, bigger, molecules)
    assert grown_loss.item() == pytest.approx(parent_loss.item(), rel=0.02)
    # the grown model can learn a peptide: one Adam step lowers its loss
    peptide = [peptide_to_smiles("SIINFEKL")]
    before = _reconstruction_loss(grown, bigger, peptide)
    grown.train()
    optimizer = torch.optim.Adam(grown.parameters(), lr=1e-3)
    graphs = featurize_smiles(peptide).graphs
    graph_batch, inputs, targets = collate(list(GraphTokenDataset(graphs, [bigger.encode(peptide[0])])))
    logits, _, _ = grown(graph_batch, inputs)
    F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1)).backward()
    optimizer.step()
    assert _reconstruction_loss(grown, bigger, peptide) < before
    with pytest.raises(ValueError, match="must extend"):
        grow_vocabulary(model, vocabulary, SelfiesVocabulary.build(peptides))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """200 MOSES molecules, 120 real MHC rows of two alleles, and a tiny parent generator
    trained on nothing (random weights) whose vocabulary covers the molecules."""
    base = tmp_path_factory.mktemp("continued")
    molecules = base / "molecules.csv"
    pd.read_csv(MOSES).head(200).to_csv(molecules, index=False)
    table = pd.read_csv(MHC)
    mhc = base / "mhc.csv"
    pd.concat([table[table["allele"] == "HLA-A*02:01"].head(90), table[table["allele"] == HELD].head(30)]).to_csv(mhc, index=False)
    torch.manual_seed(0)
    tokens = [smiles_to_selfies_tokens(s) for s in pd.read_csv(molecules)["smiles"]]
    vocabulary = SelfiesVocabulary.build(tokens, 100)
    model = MoleculeVAE(len(vocabulary), EncoderConfig(hidden_dim=32, num_layers=2),
                        DecoderConfig(latent_dim=16, hidden_dim=64, embedding_dim=16))
    parent = save_generator(model, vocabulary, base / "parent", {"corpus": "tiny", "mlflow_run_id": "parent-run"})
    return {"molecules": molecules, "mhc": mhc, "parent": parent}


def _config(inputs: dict[str, Path], epochs: int, **changes) -> PretrainConfig:
    values = dict(corpus=str(inputs["molecules"]), init_from=str(inputs["parent"]), peptides=str(inputs["mhc"]),
                  exclude_alleles=[HELD], max_tokens=240, batch_size=32,
                  optim={"sample_size": 30, "reconstruction_size": 20, "kl_warmup_steps": 0},
                  trainer={"max_epochs": epochs, "checkpoint_every_n_steps": 4, "patience": 10})
    values.update(changes)
    return PretrainConfig(**values)


def test_continued_run_starts_from_the_parent_learns_peptides_and_records_its_parent(inputs, tmp_path, monkeypatch):
    parent = load_parent(str(inputs["parent"]))
    at_start = {}

    def record(self):  # the weights when training begins, before the first step
        at_start.update({k: v.detach().clone() for k, v in self.model.state_dict().items()})

    monkeypatch.setattr(PretrainModule, "on_train_start", record, raising=False)
    outcome = run_pretraining(_config(inputs, 1), tmp_path / "run", progress=False, cache_dir=tmp_path / "cache")

    n_old = len(parent.vocabulary)
    for name, tensor in parent.model.state_dict().items():
        start = at_start[name][:n_old] if name in TOKEN_ROWS else at_start[name]
        assert torch.equal(start, tensor), name
    model, vocabulary, metadata = load_generator(outcome.model_dir)
    assert vocabulary.tokens[:n_old] == parent.vocabulary.tokens
    assert {"[C@@H1]", "[C@H1]"} <= set(vocabulary.tokens[n_old:]) and vocabulary.max_length == 241
    assert model.encoder.config == parent.model.encoder.config  # the parent's shape
    trained = model.state_dict()["decoder.output.bias"][:n_old]
    assert not torch.equal(trained, parent.model.state_dict()["decoder.output.bias"])  # and then it trained

    corpus_peptides = metadata["corpus_peptides"]
    assert 0 < corpus_peptides <= 90 and metadata["peptide_corpus"]["peptides_excluded"] > 0
    assert metadata["peptide_corpus"]["excluded_alleles"] == [HELD]
    assert metadata["corpus_molecules"] == 200 + corpus_peptides
    described = metadata["parent_prior"]
    assert described["init_from"] == str(inputs["parent"]) and described["mlflow_run_id"] == "parent-run"
    assert described["vocabulary_size"] == n_old and "[C@@H1]" in described["tokens_added"]
    for key in ("final_reconstruction_accuracy_peptides", "final_reconstruction_accuracy_molecules"):
        assert key in outcome.metrics

    run = mlflow.get_run(outcome.run_id)
    assert run.data.tags["molprior.parent_prior"] == str(inputs["parent"])
    assert run.data.tags["molprior.parent_run_id"] == "parent-run"
    assert run.data.params["init_from"] == str(inputs["parent"])
    assert len(run.data.params["peptides.sha256"]) == 64
    assert run.data.metrics["corpus_peptides"] == corpus_peptides
    history = json.loads((tmp_path / "run" / "training_history.json").read_text())
    assert len(history) == 1 and "val_loss" in history[0]


def test_a_continued_run_resumes_with_its_grown_vocabulary(inputs, tmp_path):
    out = tmp_path / "run"
    first = run_pretraining(_config(inputs, 1), out, progress=False, cache_dir=tmp_path / "cache")
    second = run_pretraining(_config(inputs, 2), out, resume=True, progress=False, cache_dir=tmp_path / "cache")
    assert second.run_id == first.run_id
    assert load_generator(second.model_dir)[1].tokens == load_generator(first.model_dir)[1].tokens
    history = json.loads((out / "training_history.json").read_text())
    assert [h["epoch"] for h in history] == [0, 1]  # the first run's epoch kept


def test_the_parent_shape_cannot_be_changed(inputs, tmp_path):
    with pytest.raises(ValueError, match="keeps the parent's shape"):
        run_pretraining(_config(inputs, 1, encoder={"hidden_dim": 64}), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "mlflow_run.json").exists()
