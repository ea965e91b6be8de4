"""Peptide embeddings from the shipped graph encoder: layout, batch independence, locality."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.models.peptide_encoder import PeptideEncoder
from molprior.serialization import load_encoder

PRIOR = Path(__file__).resolve().parents[2] / "molprior" / "priors" / "default" / "encoder"
EPITOPES = ["NLVPMVATV", "GILGFVFTL", "SLYNTVATL", "KLVALGINAV", "YLLPAIVHI"]
MORE = ["LLFGYPVYV", "FLPSDFFPSV", "ELAGIGILTV", "KVAELVHFL", "ILKEPVHGV", "AAGIGILTV", "RMFPNAPYL",
        "QYDPVAALF", "TPRVTGGGAM", "EIYKRWIIL", "YMLDLQPETT", "SLLMWITQC"]


@pytest.fixture(scope="module")
def encoder() -> PeptideEncoder:
    graph_encoder, _ = load_encoder(PRIOR)
    return PeptideEncoder(graph_encoder).eval()


def _slots(embedding: torch.Tensor, hidden: int) -> torch.Tensor:
    """The 2k terminal slots, the middle and the whole-peptide mean as rows (k = 4)."""
    return embedding[:10 * hidden].reshape(10, hidden)


def test_output_shape_and_length_onehot(encoder):
    hidden = encoder.encoder.config.hidden_dim
    assert encoder.output_dim == 10 * hidden + 8  # 2x4 terminal slots, middle, mean, lengths 8..15
    peptides = ["GILGFVFT", "SLYNTVATL", "KLVALGINAV", "NLVPMVATVQGQNL", "NLVPMVATVQGQNLK"]
    out = encoder(peptide_graphs(peptides))
    assert out.shape == (5, encoder.output_dim) and out.dtype == torch.float32
    onehot = out[:, 10 * hidden:]
    assert onehot.argmax(1).tolist() == [0, 1, 2, 6, 7] and (onehot.sum(1) == 1).all()
    # lengths outside 8-15 share the nearest end's slot
    clipped = encoder.embed(["GILGFVF", "NLVPMVATVQGQNLKY"])[:, 10 * hidden:]
    assert clipped.argmax(1).tolist() == [0, 7]
    assert encoder.embed([]).shape == (0, encoder.output_dim)


def test_embedding_does_not_depend_on_the_batch(encoder):
    peptides = EPITOPES + MORE
    together = encoder.embed(peptides)
    alone = torch.cat([encoder.embed([p]) for p in peptides])
    in_pairs = encoder.embed(peptides, batch_size=2)
    reversed_ = encoder.embed(peptides[::-1]).flip(0)
    for other in (alone, in_pairs, reversed_):  # the same bits: dense layers see fixed-size blocks of fields
        assert torch.equal(other, together)
    assert not torch.allclose(together[0], together[1])  # different peptides, different embeddings


def test_terminal_slots_are_the_first_and_last_residues(encoder):
    """A 9-mer: slots 0-3 are residues 1-4, slots 4-7 residues 6-9, the middle slot residue 5."""
    hidden = encoder.encoder.config.hidden_dim
    graphs = peptide_graphs(["SLYNTVATL"])
    batch = graphs.graphs.to_batch()
    with torch.no_grad():
        atoms = encoder.encoder.atom_embeddings(batch.x, batch.edge_index, batch.edge_attr)
        slots = _slots(encoder(graphs)[0], hidden)
    residues = torch.stack([atoms[torch.from_numpy(graphs.residue == r)].mean(0) for r in range(9)])
    torch.testing.assert_close(slots[:4], residues[:4])
    torch.testing.assert_close(slots[4:8], residues[5:])
    torch.testing.assert_close(slots[8], residues[4])
    torch.testing.assert_close(slots[9], atoms.mean(0))


def test_a_middle_substitution_reaches_only_the_residues_within_message_passing_range(encoder):
    """SLYNTVATL vs SLYNAVATL (T5A): the encoder's 4 layers carry the change 4 bonds, into the
    backbones of residues 4 and 6 but not to residues 1-3 or 7-9."""
    hidden = encoder.encoder.config.hidden_dim
    base, mutant = encoder.embed(["SLYNTVATL", "SLYNAVATL"])
    difference = (_slots(base, hidden) - _slots(mutant, hidden)).abs().amax(1)
    unchanged = [0, 1, 2, 5, 6, 7]  # residues 1-3 and 7-9
    changed = [3, 4, 8, 9]  # residue 4, residue 6, the middle (residue 5), the mean
    assert difference[unchanged].max() == 0, difference
    assert (difference[changed] > 1e-3).all(), difference
    assert torch.equal(base[10 * hidden:], mutant[10 * hidden:])  # same length


def test_an_anchor_substitution_changes_its_end_only(encoder):
    """The P2 anchor (SLYNTVATL vs SIYNTVATL): the first slots change, the last four and the
    middle do not."""
    hidden = encoder.encoder.config.hidden_dim
    base, mutant = encoder.embed(["SLYNTVATL", "SIYNTVATL"])
    difference = (_slots(base, hidden) - _slots(mutant, hidden)).abs().amax(1)
    assert (difference[[0, 1, 2]] > 1e-3).all() and (difference[[4, 5, 6, 7, 8]] == 0).all(), difference


def test_short_peptides_repeat_slots_and_have_an_empty_middle(encoder):
    hidden = encoder.encoder.config.hidden_dim
    slots = _slots(encoder.embed(["GIL"])[0], hidden)
    torch.testing.assert_close(slots[3], slots[2])  # starts: residues 1, 2, 3, 3
    torch.testing.assert_close(slots[4], slots[0])  # ends: residues 1, 1, 2, 3
    torch.testing.assert_close(slots[5], slots[0])
    torch.testing.assert_close(slots[6], slots[1])
    torch.testing.assert_close(slots[7], slots[2])
    assert (slots[8] == 0).all()  # no residue between the terminal slots
