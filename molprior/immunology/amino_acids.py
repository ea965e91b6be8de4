"""Amino-acid tables and fixed-length peptide encodings (one-hot, BLOSUM62).

Peptides of different lengths are aligned the way pan-allele MHC predictors do it: the
sequence is written three times, left-aligned, centred and right-aligned, each in a block of
``max_length`` positions, so the anchor residues at both ends land on fixed positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from molprior.errors import InputError

AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"
SCHEMES = ("onehot", "blosum62")
BLOSUM62_SCALE = 0.25  # BLOSUM62 rows are divided by 4 in the encoding (most self-scores become 1)

_BLOSUM62_ORDER = "ARNDCQEGHILKMFPSTWYV"
_BLOSUM62_ROWS = """
 4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0
-1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3
-2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3
-2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3
 0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1
-1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2
-1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2
 0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3
-2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3
-1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3
-1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1
-1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2
-1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1
-2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1
-1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2
 1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2
 0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0
-3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3
-2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1
 0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4
"""


def _blosum62() -> np.ndarray:
    table = np.array(_BLOSUM62_ROWS.split(), dtype=np.int64).reshape(20, 20)
    order = [_BLOSUM62_ORDER.index(a) for a in AMINO_ACIDS]
    return table[np.ix_(order, order)]


#: BLOSUM62 substitution scores (Henikoff & Henikoff, PNAS 89:10915, 1992) in AMINO_ACIDS order.
BLOSUM62: np.ndarray = _blosum62()
BLOSUM62.setflags(write=False)

_SWISSPROT_PERCENT = {  # UniProtKB/Swiss-Prot release statistics, amino acid composition (%)
    "A": 8.25, "R": 5.53, "N": 4.06, "D": 5.45, "C": 1.37, "Q": 3.93, "E": 6.75,
    "G": 7.07, "H": 2.27, "I": 5.96, "L": 9.66, "K": 5.84, "M": 2.42, "F": 3.86,
    "P": 4.70, "S": 6.56, "T": 5.34, "W": 1.08, "Y": 2.92, "V": 6.87,
}

#: Background residue frequencies of natural proteins in AMINO_ACIDS order, summing to 1: the
#: amino acid composition of the UniProtKB/Swiss-Prot release statistics (percentages, renormalised).
NATURAL_FREQUENCIES: np.ndarray = np.array([_SWISSPROT_PERCENT[a] for a in AMINO_ACIDS]) / sum(_SWISSPROT_PERCENT.values())
NATURAL_FREQUENCIES.setflags(write=False)

_PAD = len(AMINO_ACIDS)
_CODE = np.full(256, -1, dtype=np.int64)  # byte -> residue index, -1 for anything else
_CODE[np.frombuffer(AMINO_ACIDS.encode(), dtype=np.uint8)] = np.arange(len(AMINO_ACIDS))


def random_peptides(n: int, length: int, rng: np.random.Generator) -> list[str]:
    """``n`` peptides of ``length`` residues drawn independently from NATURAL_FREQUENCIES."""
    if n <= 0:
        return []
    picks = rng.choice(len(AMINO_ACIDS), size=(n, length), p=NATURAL_FREQUENCIES)
    letters = np.frombuffer(AMINO_ACIDS.encode(), dtype=np.uint8)[picks]
    return [row.decode() for row in np.ascontiguousarray(letters).view(f"S{length}").ravel()]


def _residue_table(scheme: str) -> np.ndarray:
    """Row ``i`` encodes residue ``AMINO_ACIDS[i]``; the extra last row (padding) is all zeros."""
    if scheme == "onehot":
        rows = np.eye(len(AMINO_ACIDS))
    elif scheme == "blosum62":
        rows = BLOSUM62 * BLOSUM62_SCALE
    else:
        raise InputError(f"unknown encoding scheme {scheme!r}; expected one of {SCHEMES}")
    return np.vstack([rows, np.zeros(len(AMINO_ACIDS))]).astype(np.float32)


def _indices(peptides: Sequence[str], max_length: int) -> np.ndarray:
    """(n, 3 * max_length) residue indices of the left/centre/right alignment, pads = ``_PAD``."""
    index = np.full((len(peptides), 3 * max_length), _PAD, dtype=np.int64)
    by_length: dict[int, list[int]] = {}
    for i, peptide in enumerate(peptides):
        if not isinstance(peptide, str) or not 1 <= len(peptide) <= max_length:
            raise InputError(f"peptide {peptide!r}: length must be 1-{max_length}")
        by_length.setdefault(len(peptide), []).append(i)
    for length, rows in by_length.items():
        text = "".join(peptides[i] for i in rows)
        raw = np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)  # one byte per character
        codes = _CODE[raw].reshape(len(rows), length)
        bad = np.flatnonzero((codes < 0).any(axis=1))
        if bad.size:
            peptide = peptides[rows[bad[0]]]
            residue = next(r for r in peptide if r not in AMINO_ACIDS)
            raise InputError(f"peptide {peptide!r}: non-standard residue {residue!r}")
        slack = max_length - length
        rows_index = np.asarray(rows)[:, None]
        for block, offset in enumerate((0, slack // 2, slack)):
            start = block * max_length + offset
            index[rows_index, np.arange(start, start + length)] = codes
    return index


def encode_peptides(peptides: Sequence[str], scheme: str = "blosum62", max_length: int = 15) -> np.ndarray:
    """Fixed-length float32 encoding, shape ``(n, 3 * max_length * 20)``.

    Each peptide fills three blocks of ``max_length`` positions: left-aligned, centred (the
    extra pad on the right when the slack is odd) and right-aligned; pad positions are zeros.
    A residue is a one-hot vector (``"onehot"``) or its BLOSUM62 row times 1/4 (``"blosum62"``).
    Raises ``ValueError`` naming the peptide for non-standard residues or lengths > ``max_length``.
    """
    table = _residue_table(scheme)
    index = _indices(list(peptides), max_length)
    return table[index].reshape(len(index), 3 * max_length * len(AMINO_ACIDS))
