"""Tests for molprior.immunology.amino_acids: BLOSUM62, background frequencies, peptide encodings."""

from __future__ import annotations

import numpy as np
import pytest

from molprior.immunology.amino_acids import (
    AMINO_ACIDS, BLOSUM62, BLOSUM62_SCALE, NATURAL_FREQUENCIES, encode_peptides, random_peptides,
)


def score(a: str, b: str) -> int:
    return int(BLOSUM62[AMINO_ACIDS.index(a), AMINO_ACIDS.index(b)])


def test_blosum62_known_entries():
    assert BLOSUM62.shape == (20, 20)
    assert (BLOSUM62 == BLOSUM62.T).all()
    assert score("W", "W") == 11 and score("C", "C") == 9 and score("A", "A") == 4
    assert score("L", "I") == 2 and score("W", "C") == -2 and score("F", "Y") == 3
    assert score("D", "E") == 2 and score("P", "W") == -4 and score("K", "R") == 2
    assert dict(zip(AMINO_ACIDS, np.diag(BLOSUM62))) == {
        "A": 4, "C": 9, "D": 6, "E": 5, "F": 6, "G": 6, "H": 8, "I": 4, "K": 5, "L": 4,
        "M": 5, "N": 6, "P": 7, "Q": 5, "R": 5, "S": 4, "T": 5, "V": 4, "W": 11, "Y": 7,
    }
    assert (BLOSUM62.argmax(axis=1) == np.arange(20)).all()  # every residue scores best against itself


def test_natural_frequencies():
    assert NATURAL_FREQUENCIES.shape == (20,) and encode_peptides([]).shape == (0, 900)
    assert NATURAL_FREQUENCIES.sum() == pytest.approx(1.0)
    freq = dict(zip(AMINO_ACIDS, NATURAL_FREQUENCIES))
    assert max(freq, key=freq.get) == "L" and min(freq, key=freq.get) == "W"
    assert freq["A"] == pytest.approx(0.0825 / 0.9989)  # the published percentages sum to 99.89


def test_random_peptides_follow_the_background():
    peptides = random_peptides(20_000, 9, np.random.default_rng(0))
    assert len(peptides) == 20_000 and {len(p) for p in peptides} == {9}
    assert set("".join(peptides)) <= set(AMINO_ACIDS)
    counts = np.array([sum(p.count(a) for p in peptides) for a in AMINO_ACIDS]) / (20_000 * 9)
    assert np.abs(counts - NATURAL_FREQUENCIES).max() < 0.005
    assert random_peptides(5, 10, np.random.default_rng(1)) == random_peptides(5, 10, np.random.default_rng(1))
    assert random_peptides(0, 9, np.random.default_rng(0)) == []


def reference_onehot(peptide: str, max_length: int) -> np.ndarray:
    """Loop version of the three-block alignment, for comparison."""
    slack = max_length - len(peptide)
    out = np.zeros((3 * max_length, 20), dtype=np.float32)
    for block, offset in enumerate((0, slack // 2, slack)):
        for i, residue in enumerate(peptide):
            out[block * max_length + offset + i, AMINO_ACIDS.index(residue)] = 1
    return out.ravel()


def test_onehot_alignment_matches_a_loop():
    peptides = ["SIINFEKL", "GILGFVFTL", "NLVPMVATVQ", "AAAAYYYYWWWWCCC"] + random_peptides(
        50, 11, np.random.default_rng(2))
    encoded = encode_peptides(peptides, "onehot")
    assert encoded.shape == (len(peptides), 3 * 15 * 20) and encoded.dtype == np.float32
    for peptide, row in zip(peptides, encoded):
        np.testing.assert_array_equal(row, reference_onehot(peptide, 15))


def test_positions_of_a_nine_and_ten_mer():
    nine, ten = encode_peptides(["GILGFVFTL", "NLVPMVATVQ"], "onehot").reshape(2, 3, 15, 20)
    occupied = nine.sum(-1)
    assert occupied[0].nonzero()[0].tolist() == list(range(0, 9))
    assert occupied[1].nonzero()[0].tolist() == list(range(3, 12))
    assert occupied[2].nonzero()[0].tolist() == list(range(6, 15))
    # slack 5: two pads on the left of the centred block, three on the right
    assert ten.sum(-1)[1].nonzero()[0].tolist() == list(range(2, 12))
    assert ten[1, 2, AMINO_ACIDS.index("N")] == 1 and ten[2, 14, AMINO_ACIDS.index("Q")] == 1


def test_blosum62_rows_and_zero_pads():
    encoded = encode_peptides(["GILGFVFTL"], "blosum62", max_length=12).reshape(3, 12, 20)
    np.testing.assert_allclose(encoded[0, 1], BLOSUM62[AMINO_ACIDS.index("I")] * BLOSUM62_SCALE)
    np.testing.assert_allclose(encoded[2, 11], BLOSUM62[AMINO_ACIDS.index("L")] * BLOSUM62_SCALE)
    assert not encoded[0, 9:].any() and not encoded[1, [0, 10, 11]].any() and not encoded[2, :3].any()
    full = encode_peptides(["AAAAYYYYWWWWCCC"], "blosum62").reshape(3, -1)
    assert (full[0] == full[1]).all() and (full[1] == full[2]).all()


@pytest.mark.parametrize("peptide, fragment", [
    ("GILGXVFTL", "'X'"), ("GILGfVFTL", "'f'"), ("GILG VFTL", "' '"), ("SIINFEKLSIINFEKL", "length"), ("", "length"),
])
def test_bad_peptides_are_named(peptide, fragment):
    with pytest.raises(ValueError, match=fragment) as error:
        encode_peptides(["SIINFEKL", peptide])
    assert repr(peptide) in str(error.value)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="scheme"):
        encode_peptides(["SIINFEKL"], "bogus")
