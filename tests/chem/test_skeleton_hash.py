"""The skeleton hash: equal InChIKey skeletons give equal hashes (so a differing hash proves two
molecules differ), whatever the atom order or the other molecules hashed with it."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
from rdkit import Chem

from molprior.chem.featurize import featurize_mols, featurize_smiles
from molprior.chem.skeleton_hash import hashable, skeleton_hashes
from molprior.chem.standardize import standardize_smiles
from molprior.data.leakage import molecule_key


def test_molecules_sharing_an_inchikey_skeleton_share_the_hash(fsmol_smiles):
    """FS-Mol holds stereoisomers, tautomers and charge states of the same skeletons."""
    rng = random.Random(2)
    standardised = [standardize_smiles(s).smiles for s in rng.sample(fsmol_smiles, 6000)]
    graphs = featurize_smiles(list(dict.fromkeys(s for s in standardised if s))).graphs
    hashes, ok = skeleton_hashes(graphs), hashable(graphs)
    by_key = defaultdict(set)
    for smiles, value, good in zip(graphs.smiles, hashes, ok):
        key = molecule_key(smiles)
        if key and good:
            by_key[key].add(int(value))
    assert len(by_key) > 5000
    assert all(len(v) == 1 for v in by_key.values())
    assert len(set(hashes[ok].tolist())) > 0.95 * ok.sum()  # and it tells most molecules apart


def test_tautomers_stereoisomers_and_charge_states_hash_alike():
    groups = [["CC(=O)O", "CC(=O)[O-]"], ["Oc1ccccn1", "O=c1cccc[nH]1"],
              ["C[C@H](N)C(=O)O", "C[C@@H](N)C(=O)O", "CC(N)C(=O)O"], ["C/C=C/C", r"C/C=C\C"]]
    for group in groups:
        graphs = featurize_smiles(group, canonical=False).graphs
        assert len(set(skeleton_hashes(graphs).tolist())) == 1, group
        assert len({molecule_key(s) for s in group}) == 1, group  # what InChI says too
    different = featurize_smiles(["CCO", "COC", "CCN"], canonical=False).graphs
    assert len(set(skeleton_hashes(different).tolist())) == 3


def test_the_hash_ignores_atom_order_and_the_other_molecules(real_canonical_smiles):
    smiles = real_canonical_smiles[:300]
    alone = np.array([skeleton_hashes(featurize_mols([s])[0])[0] for s in smiles])
    together = skeleton_hashes(featurize_mols(smiles)[0])
    shuffled = [Chem.MolToSmiles(Chem.MolFromSmiles(s), doRandom=True, canonical=False) for s in smiles]
    respelled = skeleton_hashes(featurize_smiles(shuffled, canonical=False).graphs)
    assert np.array_equal(alone, together) and np.array_equal(together, respelled)


def test_molecules_with_atoms_inchi_disconnects_are_not_hashable():
    graphs = featurize_smiles(["CCO", "C[Sn](C)(C)C", "C[Hg]C", "OB(O)c1ccccc1", "CS(=O)(=O)N"], canonical=False).graphs
    assert hashable(graphs).tolist() == [True, False, False, False, True]
