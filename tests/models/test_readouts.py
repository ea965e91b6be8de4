"""Readouts by name: the registered poolings, a new one registered, an unknown name refused."""

import pytest
import torch

from molprior.chem.featurize import featurize_smiles
from molprior.errors import InputError
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

        readouts.register_readout("first_atom", first_atom)
        first = GraphEncoder(EncoderConfig(hidden_dim=16, num_layers=1, readout="first_atom"))
        first.load_state_dict(mean.state_dict())
        atoms, _ = first(batch)
        assert torch.equal(first.embed(batch), atoms[[0, 3]])  # CCO has 3 heavy atoms
        with pytest.raises(InputError, match="already registered"):
            readouts.register_readout("first_atom", readouts.READOUTS["mean"].pool)
    finally:
        readouts.READOUTS.pop("first_atom", None)
