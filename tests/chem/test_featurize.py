"""Tests for molprior.chem.featurize: the fast path equals the reference, and featurize_smiles."""

from __future__ import annotations

import numpy as np
import pytest
from rdkit import Chem

from molprior.chem import featurize as fz
from molprior.chem.cache import FeatureCache
from molprior.chem.features import ATOM_FEATURE_DIMS, BOND_FEATURE_DIMS, FEATURIZER_VERSION, reference_graph
from molprior.chem.featurize import FeaturizationError, featurize_smiles, smiles_to_graph

HARD_CASES = [
    # double-bond stereo and tetrahedral centres
    "C/C=C/C", r"C/C=C\C", r"C/C=C/C=C\C", "C/C=N/O", r"F/C=C/F",
    "C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "N[C@@H](Cc1ccccc1)C(=O)O",
    "OC[C@H]1OC(O)[C@H](O)[C@@H](O)[C@@H]1O",
    "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
    "C[S@](=O)c1ccccc1", "C[P@@](=O)(O)c1ccccc1", "C[N@+]1(CC)CCCC1",
    # charged atoms
    "C[N+](C)(C)C", "CC(=O)[O-]", "[NH4+]", "[NH3+]CC(=O)[O-]", "O=[N+]([O-])c1ccccc1", "[N-]=[N+]=[N-]",
    "[C-]#[O+]", "[CH3-]", "[O-2]", "[B-](F)(F)(F)F",
    # aromatic charged bracket atoms
    "C[n+]1ccccc1", "c1cc[s+]cc1", "c1cc[nH+]cc1", "[O-][n+]1ccccc1", "c1cc[o+]cc1", "c1ccc[se+]c1", "c1cc[cH-]c1",
    # radicals
    "[CH2]C", "[CH]C", "[C]", "C[C]C", "[O]", "[OH]", "[N]=O",
    # isotopes and explicit hydrogens
    "[2H]C([2H])([2H])O", "[2H]c1ccccc1", "[13CH4]", "[H]C([H])([H])O", "[H]OC", "[H][H]", "[H]", "[H+]",
    "[2H]/C=C/[2H]", "[H]/C=C/[H]",
    # several fragments
    "CCO.Cl", "[Na+].[Cl-]", "CC(=O)[O-].[NH4+]", "[Mg+2].[O-]C(=O)C.[O-]C(=O)C", "O.O.O.OC(=O)c1ccccc1",
    # rings: large, bridged, spiro, fused
    "C1CCCCCCCCCCCCCCCCCCCCCCCCCCCC1", "C1CC2CCC1C2", "C1CCC2(CC1)CCCC2", "C12C3C4C1C5C2C3C45",
    "c1ccc2c(c1)[nH]c1ccccc12", "c1ccc2ccccc2c1",
    # triple and cumulated bonds
    "C#N", "CC#CC", "C#CC#CC#C", "C=C=C", "O=C=O", "N#N",
    # boron, selenium, other main-group elements
    "OB(O)c1ccccc1", "OB(O)O", "Cc1ccccc1B1OC(C)(C)C(C)(C)O1", "b1ccccc1", "[BH4-]", "[BH3-]C#N",
    "C[Se]C", "C[Se][Se]C", "O=[Se](O)O", "[SeH2]", "C[Si](C)(C)C", "F[Xe]F", "C1=CC=[As]C=C1",
    # metals
    "[Fe]", "[Fe+2]", "[Co+3]", "Cl[Pt](Cl)([NH3])[NH3]", "[Cu+2].[O-]S(=O)(=O)[O-]", "[Li]C", "C[Hg]C",
    "O=[Cr](=O)=O", "[U]", "[Og]", "C[NH2]->[Pt](Cl)Cl",
    # dummy atoms
    "*C", "[*]CC",
]


def _assert_identical(smiles: str) -> None:
    fast = smiles_to_graph(smiles)
    reference = reference_graph(Chem.MolFromSmiles(smiles))
    for name, got, want in zip(("x", "edge_index", "edge_attr"), fast, reference):
        assert got.dtype == want.dtype, (smiles, name)
        assert got.shape == want.shape, (smiles, name)
        assert np.array_equal(got, want), (smiles, name, got.tolist(), want.tolist())


# --- smiles_to_graph ------------------------------------------------------------------------


def test_fast_path_equals_reference_on_real_molecules(real_canonical_smiles):
    assert len(real_canonical_smiles) > 1900
    for smiles in real_canonical_smiles:
        _assert_identical(smiles)


def test_graphs_from_given_molecules_equal_graphs_from_their_smiles(real_canonical_smiles):
    """Scoring hands featurisation the molecule standardisation parsed back from its canonical
    SMILES; the fast path then skips its own parse and must give the same arrays."""
    smiles = real_canonical_smiles + [Chem.MolToSmiles(Chem.MolFromSmiles(s)) for s in HARD_CASES]
    smiles = list(dict.fromkeys(smiles))
    from_strings, errors = fz.featurize_mols(smiles)
    from_mols, errors_mols = fz.featurize_mols(smiles, [Chem.MolFromSmiles(s) for s in smiles])
    assert errors == errors_mols and len(from_strings) > 1900
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        assert np.array_equal(getattr(from_strings, name), getattr(from_mols, name)), name
    assert from_strings.smiles == from_mols.smiles


def test_real_molecules_mostly_take_the_fast_path(real_canonical_smiles):
    # Otherwise the comparison above would compare the reference with itself.
    fast = sum(fz._fast_graph(s) is not None for s in real_canonical_smiles)
    assert fast >= 0.95 * len(real_canonical_smiles)


@pytest.mark.parametrize("smiles", HARD_CASES)
def test_fast_path_equals_reference_on_hard_cases(smiles):
    mol = Chem.MolFromSmiles(smiles)
    assert mol is not None
    _assert_identical(Chem.MolToSmiles(mol))  # the documented input: canonical SMILES
    # Any other spelling goes through canonical=False, which canonicalises first.
    result = featurize_smiles([smiles], canonical=False)
    canonical = Chem.MolToSmiles(mol)
    assert result.graphs.smiles == [canonical]
    for got, want in zip(result.graphs.arrays(0), reference_graph(Chem.MolFromSmiles(canonical))):
        assert np.array_equal(got, want), smiles


def test_non_canonical_aromatic_smiles_equal_reference(moleculeace_smiles):
    rng = np.random.default_rng(3)
    for smiles in rng.choice(moleculeace_smiles, 300, replace=False):
        mol = Chem.MolFromSmiles(str(smiles))
        _assert_identical(Chem.MolToSmiles(mol, doRandom=True))


def test_exact_route_is_taken_for_explicit_hydrogens_and_charged_aromatic_atoms():
    assert fz._fast_graph("CCO") is not None
    assert fz._fast_graph("C[n+]1ccccc1") is None
    assert fz._fast_graph("[2H]C([2H])([2H])O") is None
    assert fz._fast_graph("[H]OC") is None


def test_shapes_and_dtypes(real_canonical_smiles):
    for smiles in real_canonical_smiles[:300] + ["C", "[Na+].[Cl-]", "C[n+]1ccccc1"]:
        mol = Chem.MolFromSmiles(smiles)
        x, edge_index, edge_attr = smiles_to_graph(smiles)
        n, b = mol.GetNumAtoms(), mol.GetNumBonds()
        assert x.dtype == np.uint8 and x.shape == (n, 9)
        assert edge_index.dtype == np.int64 and edge_index.shape == (2, 2 * b)
        assert edge_attr.dtype == np.uint8 and edge_attr.shape == (2 * b, 3)
        assert edge_index.min(initial=0) >= 0 and edge_index.max(initial=0) < n


def test_feature_values_within_vocabulary(real_canonical_smiles):
    graphs = [smiles_to_graph(s) for s in real_canonical_smiles + HARD_CASES]
    x = np.concatenate([g[0] for g in graphs])
    edge_attr = np.concatenate([g[2] for g in graphs])
    assert (x.max(0) < np.array(ATOM_FEATURE_DIMS)).all()
    assert (edge_attr.max(0) < np.array(BOND_FEATURE_DIMS)).all()
    # The data really exercise the features (a constant column would hide mistakes).
    assert len(np.unique(x[:, 0])) >= 8 and len(np.unique(x[:, 6])) >= 3 and x[:, 1].max() >= 2
    assert set(np.unique(edge_attr[:, 0])) >= {0, 1, 2, 3} and edge_attr[:, 1].max() >= 2


def test_edges_come_in_both_directions_with_equal_features(real_canonical_smiles):
    for smiles in real_canonical_smiles[:200]:
        _, edge_index, edge_attr = smiles_to_graph(smiles)
        pairs = {(i, j): tuple(a) for i, j, a in zip(edge_index[0].tolist(), edge_index[1].tolist(), edge_attr.tolist())}
        assert len(pairs) == edge_index.shape[1]
        assert all(pairs[(j, i)] == a for (i, j), a in pairs.items())


@pytest.mark.parametrize("bad", ["C1CC", "not a smiles", "CC(C)(C)(C)(C)C", "C[N](C)(C)(C)C", "Cc1ccc[nH]1(C)", ""])
def test_smiles_to_graph_raises_on_invalid(bad):
    with pytest.raises(FeaturizationError):
        smiles_to_graph(bad)


def test_featurization_error_is_a_value_error():
    with pytest.raises(ValueError, match="C1CC"):
        smiles_to_graph("C1CC")


# --- featurize_smiles -----------------------------------------------------------------------


def _assert_same_graph(result, k: int, smiles: str) -> None:
    got = result.graphs.arrays(k)
    want = reference_graph(Chem.MolFromSmiles(smiles))
    for a, b in zip(got, want):
        assert np.array_equal(a, b), smiles


def test_featurize_keeps_input_order_and_reports_errors(drugs):
    names = list(drugs.values())
    inputs = [names[0], "C1CC", names[1], "not a smiles", names[2], "", names[3]]
    result = featurize_smiles(inputs)
    assert result.index.tolist() == [0, 2, 4, 6]
    assert result.index.dtype == np.int64
    assert result.graphs.smiles == [names[0], names[1], names[2], names[3]]
    assert sorted(result.errors) == [1, 3, 5]
    assert "C1CC" in result.errors[1] and "not a smiles" in result.errors[3]
    assert result.errors[5] == "empty SMILES"
    for k, i in enumerate(result.index):
        _assert_same_graph(result, k, inputs[i])
    assert result.from_cache == 0


def test_featurize_handles_duplicates(drugs):
    aspirin, caffeine = drugs["aspirin"], drugs["caffeine"]
    inputs = [aspirin, caffeine, aspirin, "C1CC", aspirin, "C1CC"]
    calls = []
    result = featurize_smiles(inputs, progress=calls.append)
    assert result.index.tolist() == [0, 1, 2, 4]
    assert result.graphs.smiles == [aspirin, caffeine, aspirin, aspirin]
    assert sorted(result.errors) == [3, 5]
    assert sum(calls) == 3  # each distinct SMILES is featurised once
    for k in (0, 2, 3):
        _assert_same_graph(result, k, aspirin)
    assert result.graphs.atom_ptr.tolist() == [0, 13, 27, 40, 53]


def test_featurize_empty_input():
    result = featurize_smiles([])
    assert len(result.graphs) == 0 and result.index.shape == (0,) and result.errors == {}


def test_featurize_all_invalid():
    result = featurize_smiles(["C1CC", "xyz"])
    assert len(result.graphs) == 0
    assert sorted(result.errors) == [0, 1]


def _assert_results_equal(a, b) -> None:
    assert a.index.tolist() == b.index.tolist()
    assert a.errors == b.errors
    assert a.graphs.smiles == b.graphs.smiles
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        assert np.array_equal(getattr(a.graphs, name), getattr(b.graphs, name)), name


@pytest.fixture(scope="module")
def mixed_inputs(real_canonical_smiles):
    smiles = list(real_canonical_smiles[:240])
    smiles[17] = "C1CC"
    smiles[101] = "CC(C)(C)(C)(C)C"
    return smiles + smiles[:30] + ["FC(F)(F)(F)F"]  # duplicates and one more invalid entry at the end


def test_two_workers_give_the_same_result_as_one(mixed_inputs, monkeypatch):
    serial = featurize_smiles(mixed_inputs, n_jobs=1, chunk_size=25)
    pools = []
    real_map = fz.map_in_processes

    def recording_map(function, items, jobs=1, start="spawn", cost=None):
        pools.append((jobs, start))
        return real_map(function, items, jobs, start, cost)

    monkeypatch.setattr(fz, "map_in_processes", recording_map)
    done = []
    parallel = featurize_smiles(mixed_inputs, n_jobs=2, chunk_size=25, progress=done.append)
    assert pools == [(2, "fork")]  # the work really went to two forked processes
    assert len(done) >= 10  # several chunks ran
    assert sum(done) == len(set(mixed_inputs))
    _assert_results_equal(serial, parallel)
    assert sorted(serial.errors) == [17, 101, 257, len(mixed_inputs) - 1]  # 257 = 240 + 17, a duplicate


def test_cache_second_run_reads_everything_from_cache(tmp_path, mixed_inputs):
    valid_unique = {s for s in mixed_inputs if Chem.MolFromSmiles(s) is not None}
    with FeatureCache(tmp_path) as cache:
        first = featurize_smiles(mixed_inputs, cache=cache, chunk_size=50)
        assert first.from_cache == 0
        assert len(cache) == len(valid_unique)
    with FeatureCache(tmp_path) as cache:  # a fresh connection to the same file
        second = featurize_smiles(mixed_inputs, cache=cache, chunk_size=50)
    assert second.from_cache == len(valid_unique)
    _assert_results_equal(first, second)
    assert second.graphs.x.dtype == np.uint8 and second.graphs.edge_index.dtype == np.int64


def test_cache_partial_hits(tmp_path, drugs):
    names = list(drugs.values())
    with FeatureCache(tmp_path) as cache:
        featurize_smiles(names[:3], cache=cache)
        result = featurize_smiles(names[1:6] + ["C1CC"], cache=cache)
        assert result.from_cache == 2
        assert len(cache) == 6
    assert result.graphs.smiles == names[1:6]
    assert sorted(result.errors) == [5]
    for k, smiles in enumerate(names[1:6]):
        _assert_same_graph(result, k, smiles)


def test_featurizer_version_separates_caches(tmp_path, drugs):
    names = list(drugs.values())
    with FeatureCache(tmp_path) as cache:
        assert cache.version == FEATURIZER_VERSION
        featurize_smiles(names, cache=cache)
    with FeatureCache(tmp_path, version=FEATURIZER_VERSION + "-next") as other:
        assert len(other) == 0
        result = featurize_smiles(names, cache=other)
    assert result.from_cache == 0
    with FeatureCache(tmp_path) as cache:
        assert featurize_smiles(names, cache=cache).from_cache == len(names)
