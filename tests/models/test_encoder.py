import pytest
import torch
from rdkit import Chem
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.models.encoder import EncoderConfig, GraphEncoder

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O"]


def _batch(smiles):
    return Batch.from_data_list(featurize_smiles(smiles, canonical=False).graphs.to_data_list())


@pytest.mark.parametrize("readout", ["mean", "sum", "max", "mean+max"])
def test_shapes(readout):
    config = EncoderConfig(hidden_dim=32, num_layers=3, readout=readout)
    encoder = GraphEncoder(config).eval()
    batch = _batch(DRUGS)
    atoms, molecules = encoder(batch)
    assert atoms.shape == (batch.num_nodes, 32)
    assert molecules.shape == (3, config.output_dim)


def test_embedding_does_not_depend_on_atom_order():
    torch.manual_seed(0)
    encoder = GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=3)).eval()
    mol = Chem.MolFromSmiles(DRUGS[2])
    renumbered = Chem.RenumberAtoms(mol, list(reversed(range(mol.GetNumAtoms()))))
    from molprior.chem.features import reference_graph
    from torch_geometric.data import Data

    def data(m):
        x, edge_index, edge_attr = reference_graph(m)
        return Batch.from_data_list([Data(x=torch.from_numpy(x).long(), edge_index=torch.from_numpy(edge_index),
                                          edge_attr=torch.from_numpy(edge_attr).long())])

    with torch.no_grad():
        assert torch.allclose(encoder.embed(data(mol)), encoder.embed(data(renumbered)), atol=1e-5)


def test_different_molecules_get_different_embeddings():
    torch.manual_seed(0)
    encoder = GraphEncoder(EncoderConfig(hidden_dim=32, num_layers=2)).eval()
    with torch.no_grad():
        embedding = encoder.embed(_batch(DRUGS))
    assert not torch.allclose(embedding[0], embedding[1])


def test_bad_config():
    with pytest.raises(ValueError, match="readout"):
        EncoderConfig(readout="median")
