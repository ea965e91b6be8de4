"""A library chunk read in one pass per molecule: the same canonical SMILES, reasons, graphs,
fingerprints and seen flags as the separate steps give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from _fewshot import MOLECULEACE_DIR
from molprior.chem.featurize import featurize_smiles
from molprior.chem.fingerprints import ecfp
from molprior.chem.standardize import standardize_smiles
from molprior.data import leakage
from molprior.inference.library_chunks import ChunkSettings, prepare_chunk


def test_a_chunk_matches_the_separate_steps():
    smiles = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(300).tolist()
    texts = smiles + ["C1CC", "", "CC(=O)[O-].[Na+]", "OC(=O)C", smiles[5], "[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1"]
    trained = smiles[:100]
    seen = leakage.seen_keys(leakage.molecule_keys(trained).values())
    skeletons = leakage.seen_skeletons(featurize_smiles(trained).graphs)
    chunk = prepare_chunk(texts, ChunkSettings((2048, 1024), seen, skeletons))
    expected = [standardize_smiles(t) for t in texts]
    assert chunk.canonical == [e.smiles for e in expected]
    assert chunk.errors == ["" if e.ok else e.reason for e in expected]
    distinct = list(dict.fromkeys(e.smiles for e in expected if e.ok))
    graphs = featurize_smiles(distinct).graphs
    assert chunk.graphs.smiles == graphs.smiles == distinct  # acetic acid twice, once as its sodium salt
    for name in ("x", "edge_index", "edge_attr", "atom_ptr", "edge_ptr"):
        assert np.array_equal(getattr(chunk.graphs, name), getattr(graphs, name)), name
    for bits in (2048, 1024):
        assert np.array_equal(chunk.fingerprints(bits), ecfp(distinct, n_bits=bits))
    assert chunk.seen.tolist() == leakage.seen_mask(distinct, seen).tolist()
    assert chunk.seen[:100].all() and not chunk.seen[100:].all()


def test_without_a_record_of_seen_molecules_there_is_no_seen_flag():
    chunk = prepare_chunk(["CCO", "c1ccccc1"])
    assert chunk.seen is None and chunk.packed_fingerprints == {} and len(chunk.graphs) == 2
