"""The residue-positional readout: per-residue means laid out by position, whatever the batch."""

import numpy as np
import torch

from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.immunology.peptide_readout import readout_width, residue_positions

#: HLA-A*02:01 and HLA-B*07:02 epitopes of 8 to 11 residues (CMV pp65, influenza M1, EBV, HIV gag).
PEPTIDES = ["SLYNTVAT", "GILGFVFTL", "RPHERNGFTVL", "TPRVTGGGAM", "NLVPMVATV"]
HIDDEN, SLOTS, LENGTHS = 6, 4, (8, 15)


def readout(peptides: list[str], seed: int = 0):
    graphs = peptide_graphs(peptides)
    atoms = torch.randn(len(graphs.residue), HIDDEN, generator=torch.Generator().manual_seed(seed))  # one per atom
    batch = graphs.graphs.to_batch()
    return graphs, atoms, batch.batch, residue_positions(atoms, batch.batch, graphs, SLOTS, LENGTHS)


def test_each_part_is_where_the_layout_puts_it():
    graphs, atoms, atom_peptide, out = readout(PEPTIDES)
    assert out.shape == (len(PEPTIDES), readout_width(HIDDEN, SLOTS, LENGTHS))
    for p, peptide in enumerate(PEPTIDES):
        mine = (atom_peptide == p).numpy()
        residue = graphs.residue[mine]
        mean = [atoms[mine][residue == r].mean(0) for r in range(len(peptide))]
        row = out[p]
        blocks = row[: (2 * SLOTS + 2) * HIDDEN].reshape(2 * SLOTS + 2, HIDDEN)
        for slot in range(SLOTS):
            torch.testing.assert_close(blocks[slot], mean[slot])  # first residues
            torch.testing.assert_close(blocks[SLOTS + slot], mean[len(peptide) - SLOTS + slot])  # last residues
        middle = mean[SLOTS:len(peptide) - SLOTS]
        torch.testing.assert_close(blocks[2 * SLOTS], torch.stack(middle).mean(0) if middle else torch.zeros(HIDDEN))
        torch.testing.assert_close(blocks[2 * SLOTS + 1], atoms[mine].mean(0))
        onehot = row[(2 * SLOTS + 2) * HIDDEN:]
        assert onehot.tolist() == [float(length == len(peptide)) for length in range(8, 16)]


def test_a_peptides_row_does_not_depend_on_the_others():
    graphs, atoms, atom_peptide, together = readout(PEPTIDES)
    assert np.array_equal(graphs.lengths, [len(p) for p in PEPTIDES])
    for p, peptide in enumerate(PEPTIDES):
        mine = atom_peptide == p
        alone = residue_positions(atoms[mine], torch.zeros(int(mine.sum()), dtype=torch.long), peptide_graphs([peptide]),
                                  SLOTS, LENGTHS)
        torch.testing.assert_close(alone[0], together[p])
