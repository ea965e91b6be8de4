"""Tests for molprior.chem.fingerprints: ECFP bit matrices and Tanimoto similarity."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from molprior.chem.fingerprints import ecfp, ecfp_of_mols, ecfp_with_errors, tanimoto

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ASPIRIN_OTHER_SPELLING = "OC(=O)c1ccccc1OC(C)=O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
IBUPROFEN = "CC(C)Cc1ccc(C(C)C(=O)O)cc1"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"
DRUGS = [ASPIRIN, PARACETAMOL, IBUPROFEN, CAFFEINE, ASPIRIN_OTHER_SPELLING]


def _rdkit_bits(smiles: str, radius: int = 2, n_bits: int = 2048) -> set[int]:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=n_bits)
    return set(generator.GetFingerprint(Chem.MolFromSmiles(smiles)).GetOnBits())


def test_shape_dtype_and_binary_values():
    fps = ecfp(DRUGS)
    assert fps.shape == (5, 2048)
    assert fps.dtype == np.uint8
    assert set(np.unique(fps)) == {0, 1}


def test_bits_match_rdkit_morgan():
    fps = ecfp(DRUGS)
    for row, smiles in zip(fps, DRUGS):
        assert set(np.flatnonzero(row)) == _rdkit_bits(smiles)
    assert fps.sum(1).tolist() == [24, 20, 25, 25, 24]  # aspirin 24 bits, paracetamol 20, ibuprofen 25, caffeine 25


def test_radius_and_size_options():
    small = ecfp(DRUGS, radius=3, n_bits=1024)
    assert small.shape == (5, 1024)
    assert set(np.flatnonzero(small[2])) == _rdkit_bits(IBUPROFEN, 3, 1024)
    atoms_only = ecfp([ASPIRIN], radius=0, n_bits=2048)
    assert atoms_only.sum() < ecfp([ASPIRIN]).sum()  # radius 0: atom environments only
    assert ecfp(["C"]).sum() == 1  # methane has one environment


def test_identical_molecules_give_identical_rows():
    fps = ecfp(DRUGS)
    assert np.array_equal(fps[0], fps[4])  # two spellings of aspirin
    assert not np.array_equal(fps[0], fps[1])


def test_empty_input():
    assert ecfp([]).shape == (0, 2048)


def test_molecules_and_their_smiles_give_the_same_rows():
    mols = [Chem.MolFromSmiles(s) for s in DRUGS] + [None]
    rows = ecfp_of_mols(mols, 2, 1024)
    assert np.array_equal(rows[:5], ecfp(DRUGS, n_bits=1024)) and rows[5].sum() == 0  # None: a row of zeros
    many = DRUGS * 500  # more than one block of molecules
    bits, errors = ecfp_with_errors(many[:1500] + ["C1CC"] + many[1500:])
    assert errors == {1500: "cannot compute a fingerprint for unparseable SMILES 'C1CC'"} and bits[1500].sum() == 0
    assert np.array_equal(np.delete(bits, 1500, axis=0), np.tile(ecfp(DRUGS), (500, 1)))


def test_bad_smiles_raise_naming_the_smiles_and_position():
    with pytest.raises(ValueError, match=r"'C1CC' \(position 1\)"):
        ecfp([ASPIRIN, "C1CC", "also bad"])
    with pytest.raises(ValueError, match="not a smiles"):
        ecfp(["not a smiles"])


def test_tanimoto_self_similarity_is_one_and_matrix_is_symmetric(moleculeace_smiles):
    fps = ecfp(moleculeace_smiles[:200])
    sim = tanimoto(fps, fps)
    assert sim.shape == (200, 200)
    assert np.allclose(np.diag(sim), 1.0)
    assert np.allclose(sim, sim.T)
    assert sim.min() >= 0.0 and sim.max() <= 1.0 + 1e-6
    assert 0.0 < np.median(sim) < 1.0  # real data: neither all identical nor all disjoint


def test_tanimoto_matches_rdkit():
    fps = ecfp(DRUGS)
    sim = tanimoto(fps[:2], fps)
    assert sim.shape == (2, 5)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    bitvects = [generator.GetFingerprint(Chem.MolFromSmiles(s)) for s in DRUGS]
    for i in range(2):
        expected = DataStructs.BulkTanimotoSimilarity(bitvects[i], bitvects)
        assert np.allclose(sim[i], expected, atol=1e-6)
    assert sim[0, 4] == pytest.approx(1.0)
    assert sim[0, 1] == pytest.approx(2 / 9)  # aspirin vs paracetamol


def test_tanimoto_by_hand():
    a = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], dtype=np.uint8)
    b = np.array([[1, 0, 1, 0], [1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.uint8)
    sim = tanimoto(a, b)
    assert np.allclose(sim, [[1 / 3, 1.0, 0.0], [0.0, 0.0, 0.0]])  # an empty row is 0, not NaN
    assert not np.isnan(sim).any()
