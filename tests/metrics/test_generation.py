import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import AllChem, rdFingerprintGenerator

from molprior.metrics import generation
from molprior.metrics.generation import (
    generation_metrics,
    internal_diversity,
    novelty,
    uniqueness,
    validity,
)

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "CN1C=NC2=C1C(=O)N(C(=O)N2C)C"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
INVALID = ["C1CC", "xyz", "", "c1cccc1", "C(C)(C)(C)(C)C"]  # ring, garbage, empty, aromaticity, valence
MOSES = Path(__file__).resolve().parents[2] / "data" / "moses" / "moses_train_50k.csv.gz"
MORGAN = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)


@pytest.fixture(scope="module")
def moses_smiles() -> list[str]:
    return pd.read_csv(MOSES, nrows=400)["smiles"].tolist()


def reference_int_div(smiles: list[str], p: int) -> float:
    """IntDiv_p from RDKit's own Tanimoto, one row at a time: 1 - mean_i (mean_j T_ij^p)^(1/p)."""
    fps = [MORGAN.GetFingerprint(Chem.MolFromSmiles(s)) for s in smiles]
    rows = [np.mean(np.array(DataStructs.BulkTanimotoSimilarity(fp, fps)) ** p) ** (1 / p) for fp in fps]
    return 1 - float(np.mean(rows))


def test_validity_rejects_unparsable_empty_and_unsanitisable():
    assert validity([ASPIRIN, CAFFEINE, *INVALID]) == pytest.approx(2 / 7)
    assert validity(INVALID) == 0.0
    assert validity([ASPIRIN, "OCC"]) == 1.0
    assert validity([]) == 0.0


def test_uniqueness_counts_spellings_of_one_molecule_as_duplicates():
    assert uniqueness(["CCO", "OCC", "C(O)C", ASPIRIN]) == pytest.approx(2 / 4)
    assert uniqueness(["CCO", "CCN", "CCC"]) == 1.0


def test_uniqueness_is_over_valid_molecules_only():
    assert uniqueness(["CCO", "OCC", *INVALID]) == pytest.approx(1 / 2)
    assert uniqueness(INVALID) == 0.0


def test_novelty_against_training_set_in_other_spellings():
    generated = [ASPIRIN, CAFFEINE, IBUPROFEN, PARACETAMOL, "CCO", "OCC", "xyz"]
    training = ["OC(=O)c1ccccc1OC(C)=O", "OCC", "c1ccccc1"]  # aspirin and ethanol respelled
    assert novelty(generated, training) == pytest.approx(3 / 5)
    canonical = {Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in training}
    assert novelty(generated, canonical, training_is_canonical=True) == pytest.approx(3 / 5)
    # Flagged as canonical, the respelled strings are taken as is and match nothing.
    assert novelty(generated, training, training_is_canonical=True) == 1.0
    assert novelty(INVALID, training) == 0.0


def test_fingerprints_are_the_moses_morgan_bits():
    mols = [Chem.MolFromSmiles(s) for s in (ASPIRIN, CAFFEINE, IBUPROFEN)]
    fps = generation._fingerprints(mols)
    assert fps.shape == (3, 1024) and fps.dtype == np.float32
    for row, mol in zip(fps, mols):
        legacy = AllChem.GetMorganFingerprintAsBitVect(mol, 2, nBits=1024)  # what moses calls
        assert list(np.flatnonzero(row)) == list(legacy.GetOnBits())


def test_internal_diversity_of_copies_is_zero():
    copies = [CAFFEINE, "Cn1cnc2c1c(=O)n(C)c(=O)n2C"] * 5
    assert internal_diversity(copies) == pytest.approx(0.0, abs=1e-12)
    assert internal_diversity(copies, p=2) == pytest.approx(0.0, abs=1e-12)


def test_internal_diversity_of_two_molecules_by_hand():
    t = DataStructs.TanimotoSimilarity(*(MORGAN.GetFingerprint(Chem.MolFromSmiles(s)) for s in (ASPIRIN, CAFFEINE)))
    assert 0 < t < 1
    # Ordered pairs with self-pairs: each row is [1, t], so agg_i = ((1 + t^p) / 2)^(1/p).
    assert internal_diversity([ASPIRIN, CAFFEINE]) == pytest.approx(1 - (1 + t) / 2, rel=1e-6)
    assert internal_diversity([ASPIRIN, CAFFEINE], p=2) == pytest.approx(1 - math.sqrt((1 + t**2) / 2), rel=1e-6)
    # Invalid strings are dropped, not counted as dissimilar.
    assert internal_diversity([ASPIRIN, "xyz", CAFFEINE, ""]) == pytest.approx(1 - (1 + t) / 2, rel=1e-6)


def test_internal_diversity_higher_for_moses_than_for_analogues(moses_smiles):
    diverse = internal_diversity(moses_smiles[:200])
    analogues = internal_diversity(["c1ccccc1" + "C" * k for k in range(200)])
    assert 0.8 < diverse < 1.0
    assert analogues < diverse - 0.3


def test_internal_diversity_p2_differs_from_p1(moses_smiles):
    sample = moses_smiles[:100]
    p1, p2 = internal_diversity(sample), internal_diversity(sample, p=2)
    assert p2 == pytest.approx(reference_int_div(sample, 2), abs=1e-9)
    assert p2 < p1 - 0.01  # power mean with p=2 >= arithmetic mean, so IntDiv_2 <= IntDiv_1


def test_blockwise_equals_one_shot_and_rdkit_reference(moses_smiles):
    sample = moses_smiles[:300]
    for p in (1, 2):
        one_shot = internal_diversity(sample, p=p, block_size=len(sample))
        assert internal_diversity(sample, p=p, block_size=7) == pytest.approx(one_shot, abs=1e-12)
        assert internal_diversity(sample, p=p, block_size=128) == pytest.approx(one_shot, abs=1e-12)
        assert one_shot == pytest.approx(reference_int_div(sample, p), abs=1e-9)


def test_generation_metrics_agrees_with_the_functions(moses_smiles):
    generated = [ASPIRIN, "OC(=O)c1ccccc1OC(C)=O", CAFFEINE, *moses_smiles[:20], *INVALID]
    metrics = generation_metrics(generated, moses_smiles[10:50])
    assert set(metrics) == {"validity", "uniqueness", "novelty", "internal_diversity", "n_generated", "n_valid"}
    assert metrics["n_generated"] == 28 and metrics["n_valid"] == 23
    assert metrics["validity"] == pytest.approx(validity(generated))
    assert metrics["uniqueness"] == pytest.approx(22 / 23)
    assert metrics["novelty"] == pytest.approx(12 / 22)  # moses_smiles[10:20] are in training
    assert metrics["internal_diversity"] == pytest.approx(internal_diversity(generated))
    assert "novelty" not in generation_metrics(generated)


def test_generation_metrics_all_invalid_and_empty_input():
    metrics = generation_metrics(INVALID, [ASPIRIN])
    assert metrics == {
        "validity": 0.0,
        "uniqueness": 0.0,
        "novelty": 0.0,
        "internal_diversity": 0.0,
        "n_generated": len(INVALID),
        "n_valid": 0,
    }
    assert generation_metrics([])["n_generated"] == 0
