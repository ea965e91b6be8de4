import torch
from torch_geometric.data import Batch

from molprior.chem.featurize import featurize_smiles
from molprior.models.encoder import EncoderConfig
from molprior.models.generative import DecoderConfig, MoleculeVAE


def _model(vocab=12):
    torch.manual_seed(0)
    return MoleculeVAE(vocab, EncoderConfig(hidden_dim=16, num_layers=2), DecoderConfig(latent_dim=8, hidden_dim=32,
                                                                                          embedding_dim=8))


def test_forward_shapes_and_eval_uses_the_mean():
    model = _model()
    batch = Batch.from_data_list(featurize_smiles(["CCO", "c1ccccc1O"]).graphs.to_data_list())
    inputs = torch.randint(0, 12, (2, 5))
    model.eval()
    logits, mean, logvar = model(batch, inputs)
    assert logits.shape == (2, 5, 12) and mean.shape == (2, 8) and logvar.shape == (2, 8)
    again, _, _ = model(batch, inputs)
    assert torch.equal(logits, again)  # no sampling in eval mode
    model.train()
    noisy, _, _ = model(batch, inputs)
    assert not torch.equal(logits, noisy)


def test_generation_stops_at_eos_and_greedy_is_deterministic():
    model = _model().eval()
    z = torch.randn(6, 8, generator=torch.Generator().manual_seed(1))
    ids = model.decoder.generate(z, 20, bos_id=1, eos_id=2)
    assert ids.shape == (6, 20)
    for row in ids.tolist():
        if 2 in row:
            end = row.index(2)
            assert all(t == 2 for t in row[end:])
    a = model.decoder.generate(z, 20, 1, 2, greedy=True)
    b = model.decoder.generate(z, 20, 1, 2, greedy=True)
    assert torch.equal(a, b)
