"""Readouts by name: the registered poolings, a new one registered, an unknown name refused, the
residue-positional readout chosen by name for peptides and refused for molecule graphs."""

from functools import partial

import pytest
import torch

from molprior.chem.featurize import featurize_smiles
from molprior.errors import InputError
from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.immunology.peptide_readout import residue_positions
from molprior.models import readouts
from molprior.models.encoder import EncoderConfig, GraphEncoder


def test_a_registered_readout_is_chosen_by_name():
    with pytest.raises(InputError, match=r"unknown readout 'attention'; choose one of \('mean', 'sum', 'max'"):
        EncoderConfig(readout="attention")
    batch = featurize_smiles(["CCO", "c1ccccc1"]).graphs.to_batch()
    torch.manual_seed(0)
    mean = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1, readout="mean"))
    both = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1, readout="mean+max"))
    both.load_state_dict(mean.state_dict())
    assert both.config.output_dim == 32 and torch.equal(both.embed(batch)[:, :16], mean.embed(batch))
    try:
        def first_atom(h, batch, size=None):  # the batch vector is sorted: each graph's first row
            return h[torch.searchsorted(batch, torch.arange(int(batch.max()) + 1))]

        readouts.register_readout("first_atom", partial(readouts.Pooling, first_atom))
        first = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1, readout="first_atom"))
        first.load_state_dict(mean.state_dict())
        atoms, _ = first(batch)
        assert torch.equal(first.embed(batch), atoms[[0, 3]])  # CCO has 3 heavy atoms
        with pytest.raises(InputError, match="already registered"):
            readouts.register_readout("first_atom", readouts.READOUTS["mean"])
    finally:
        readouts.READOUTS.pop("first_atom", None)


def test_residue_positions_is_a_readout_by_name_with_its_options():
    peptides = peptide_graphs(["SIINFEKL", "GILGFVFTL"])
    batch = peptides.graphs.to_batch()
    torch.manual_seed(0)
    atoms = torch.randn(batch.num_nodes, 8)
    positions = readouts.readout("residue_positions", terminal_slots=2, lengths=(8, 10))
    assert positions.width(8) == 6 * 8 + 3
    assert torch.equal(positions(atoms, batch.batch, 2, peptides),
                       residue_positions(atoms, batch.batch, peptides, 2, (8, 10)))
    with pytest.raises(InputError, match="reads the residue of each atom from peptide graphs"):
        positions(atoms, batch.batch, 2, peptides.graphs)
    with pytest.raises(InputError, match="terminal_slots >= 1"):
        readouts.readout("residue_positions", terminal_slots=0)
    with pytest.raises(InputError, match="readout 'mean': .*unexpected keyword argument 'terminal_slots'"):
        readouts.readout("mean", terminal_slots=2)


def test_a_molecule_encoder_with_the_residue_readout_says_what_it_needs():
    encoder = GraphEncoder(EncoderConfig(hidden_dim=8, num_layers=1, readout="residue_positions"))
    with pytest.raises(InputError, match="a molecule's graph has none"):
        encoder.embed(featurize_smiles(["CCO"]).graphs.to_batch())
