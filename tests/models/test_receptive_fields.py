"""Receptive fields: found exactly (against rooted trees built by hand), and the encoder run once
per field gives what it gives every atom, on real peptides and real molecules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from _fewshot import MOLECULEACE_DIR
from molprior.chem.featurize import featurize_smiles
from molprior.chem.graphs import MolGraphs
from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.models.encoder import EncoderConfig, GraphEncoder
from molprior.models.receptive_fields import receptive_fields
from molprior.serialization import load_encoder

PRIOR = Path(__file__).resolve().parents[2] / "molprior" / "priors" / "default" / "encoder"
MHC_FILE = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"


@pytest.fixture(scope="module")
def ligands() -> list[str]:
    table = pd.read_csv(MHC_FILE, usecols=["peptide"]).drop_duplicates()
    return table["peptide"][table["peptide"].str.len().between(8, 15)].sample(300, random_state=0).tolist()


@pytest.fixture(scope="module")
def molecules() -> MolGraphs:
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(60).tolist()
    return featurize_smiles(smiles + ["[Na+].[Cl-]", "C"]).graphs  # molecules without bonds too


def _trees(graphs: MolGraphs, layers: int) -> list:
    """Each atom's receptive field after ``layers`` layers as a nested tuple: its features and,
    in the order of its incoming edges, each neighbour's field one layer down with the bond."""
    edges = graphs.batch_edge_index()
    incoming = [[] for _ in range(len(graphs.x))]
    for e, target in enumerate(edges[1]):
        incoming[target].append((edges[0][e], tuple(graphs.edge_attr[e])))
    trees = [tuple(row) for row in graphs.x]
    for _ in range(layers):
        trees = [(trees[a], tuple((trees[s], bond) for s, bond in incoming[a])) for a in range(len(trees))]
    return trees


def _same_partition(labels: np.ndarray, keys: list) -> bool:
    """Whether ``labels`` group the atoms exactly as equal ``keys`` do."""
    by_key: dict = {}
    pairs = {(by_key.setdefault(key, len(by_key)), int(label)) for key, label in zip(keys, labels)}
    return len(pairs) == len(by_key) == len(set(labels.tolist()))


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_fields_group_atoms_exactly_as_their_rooted_trees_do(ligands, molecules, layers):
    for graphs in (peptide_graphs(ligands[:40]).graphs, molecules):
        fields = receptive_fields(graphs, layers)
        assert _same_partition(fields.atom_field, _trees(graphs, layers))
        assert fields.sizes == sorted(fields.sizes) and len(fields.layers) == layers  # refinement only splits


def test_peptides_share_fields_far_more_than_atoms(ligands):
    graphs = peptide_graphs(ligands).graphs
    sizes = receptive_fields(graphs, 4).sizes
    assert sizes[-1] * 8 < len(graphs.x), sizes  # 300 ligands: 23,054 atoms in 2,598 fields


@pytest.mark.parametrize("source", ["peptides", "molecules"])
def test_the_encoder_run_per_field_gives_every_atom_its_embedding(ligands, molecules, source):
    encoder, _ = load_encoder(PRIOR)
    encoder.eval()
    graphs = peptide_graphs(ligands).graphs if source == "peptides" else molecules
    batch = graphs.to_batch()
    with torch.no_grad():
        per_atom = encoder.atom_embeddings(batch.x, batch.edge_index, batch.edge_attr)
        per_field = encoder.field_embeddings(receptive_fields(graphs, encoder.config.num_layers))
    # the same additions in the same order; only the dense layers' shapes differ (blocks of
    # fields against all atoms at once), which float32 matrix products may round differently
    torch.testing.assert_close(per_field[torch.from_numpy(receptive_fields(graphs, 4).atom_field)], per_atom,
                               atol=1e-5, rtol=1e-5)


def test_a_field_embedding_does_not_depend_on_the_other_fields(ligands):
    encoder, _ = load_encoder(PRIOR)
    encoder.eval()
    whole = peptide_graphs(ligands).graphs
    part = peptide_graphs(ligands[:7]).graphs
    with torch.no_grad():
        atoms_whole = encoder.field_embeddings(receptive_fields(whole, 4))[torch.from_numpy(receptive_fields(whole, 4).atom_field)]
        atoms_part = encoder.field_embeddings(receptive_fields(part, 4))[torch.from_numpy(receptive_fields(part, 4).atom_field)]
    assert torch.equal(atoms_part, atoms_whole[:len(part.x)])  # same bits: fixed-size blocks of fields


def test_gradients_flow_and_depth_must_match(molecules):
    torch.manual_seed(0)
    encoder = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=2))
    encoder.field_embeddings(receptive_fields(molecules, 2)).sum().backward()
    assert all(p.grad is not None for p in encoder.convs.parameters())
    with pytest.raises(ValueError, match="3 layers for an encoder of 2"):
        encoder.field_embeddings(receptive_fields(molecules, 3))


def test_no_graphs_no_fields():
    fields = receptive_fields(MolGraphs.empty(), 4)
    assert len(fields.atom_field) == 0 and fields.sizes == [0, 0, 0, 0, 0]
