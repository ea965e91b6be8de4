"""Tests for molprior.chem.cache.FeatureCache: round trips, persistence, versions, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from molprior.chem import cache as cache_module
from molprior.chem.cache import FeatureCache, default_cache_dir
from molprior.chem.features import FEATURIZER_VERSION
from molprior.chem.featurize import smiles_to_graph
from molprior.chem.graphs import MolGraphs

DRUG_SMILES = [
    "CC(=O)Oc1ccccc1C(=O)O",
    "CC(=O)Nc1ccc(O)cc1",
    "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
    "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O",
    "[Na+]",  # no bonds
    "C",  # one atom, no bonds
]


def _store(smiles):
    return MolGraphs.from_arrays(smiles, [smiles_to_graph(s) for s in smiles])


def _by_smiles(store: MolGraphs) -> dict:
    return {s: store.arrays(i) for i, s in enumerate(store.smiles)}


def _assert_same_graphs(got: MolGraphs, want: MolGraphs) -> None:
    assert sorted(got.smiles) == sorted(want.smiles)
    a, b = _by_smiles(got), _by_smiles(want)
    for key in b:
        for x, y in zip(a[key], b[key]):
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), key


def test_round_trip(tmp_path):
    with FeatureCache(tmp_path) as cache:
        assert len(cache) == 0
        cache.put_many(_store(DRUG_SMILES))
        assert len(cache) == len(DRUG_SMILES)
        got = cache.get_many(DRUG_SMILES)
    _assert_same_graphs(got, _store(DRUG_SMILES))
    assert got.edge_index.dtype == np.int64


def test_get_many_returns_only_the_cached_keys(tmp_path):
    with FeatureCache(tmp_path) as cache:
        cache.put_many(_store(DRUG_SMILES[:2]))
        got = cache.get_many(["CCO", DRUG_SMILES[1], "C1CC", DRUG_SMILES[0]])
        assert sorted(got.smiles) == sorted(DRUG_SMILES[:2])
        assert len(cache.get_many(["CCO"])) == 0
        assert len(cache.get_many([])) == 0


def test_cache_persists_across_connections(tmp_path):
    with FeatureCache(tmp_path) as cache:
        cache.put_many(_store(DRUG_SMILES))
    with FeatureCache(tmp_path) as reopened:
        assert len(reopened) == len(DRUG_SMILES)
        _assert_same_graphs(reopened.get_many(DRUG_SMILES), _store(DRUG_SMILES))


def test_existing_keys_are_left_as_they_are(tmp_path):
    aspirin = DRUG_SMILES[0]
    original = _store([aspirin])
    x, edge_index, edge_attr = original.arrays(0)
    tampered = MolGraphs.from_arrays([aspirin], [(x + 1, edge_index, edge_attr)])
    with FeatureCache(tmp_path) as cache:
        cache.put_many(original)
        cache.put_many(tampered)
        assert len(cache) == 1
        got = cache.get_many([aspirin])
    assert np.array_equal(got.x, x)


def test_version_gives_a_separate_file(tmp_path):
    with FeatureCache(tmp_path) as current, FeatureCache(tmp_path, version="ogb-0") as old:
        assert current.path == tmp_path / f"features-{FEATURIZER_VERSION}.sqlite"
        assert old.path == tmp_path / "features-ogb-0.sqlite"
        current.put_many(_store(DRUG_SMILES))
        assert len(old) == 0
        assert len(old.get_many(DRUG_SMILES)) == 0
        assert len(current.get_many(DRUG_SMILES)) == len(DRUG_SMILES)


def test_many_keys_are_fetched_in_batches(tmp_path, real_canonical_smiles):
    smiles = real_canonical_smiles[: cache_module._BATCH * 2 + 50]  # more than two batches
    assert len(smiles) > 2 * cache_module._BATCH
    store = _store(smiles)
    with FeatureCache(tmp_path) as cache:
        cache.put_many(store)
        got = cache.get_many(smiles)
    assert len(got) == len(smiles)
    _assert_same_graphs(got, store)


def test_cache_directory_is_created(tmp_path):
    directory = tmp_path / "a" / "b"
    with FeatureCache(directory) as cache:
        assert directory.is_dir()
        assert cache.path.exists()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("MOLPRIOR_CACHE_DIR", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "features"
    with FeatureCache() as cache:
        assert cache.directory == tmp_path / "root" / "features"
    monkeypatch.delenv("MOLPRIOR_CACHE_DIR")
    assert default_cache_dir() == Path.home() / ".cache" / "molprior" / "features"
