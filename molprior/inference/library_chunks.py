"""A chunk of a library read, in one pass per molecule, into everything the scorer needs.

Each input is parsed once and standardised as training was (:mod:`molprior.chem.standardize`);
the molecule RDKit parses back from its canonical SMILES (the check every standardised molecule
passes) is then the one its graph, its ECFP4 bits and its skeleton hash are read from, with no
parse of their own.  A chunk runs in a worker process of the run's one pool
(:class:`molprior.parallel.Workers`), with the run's settings (:class:`ChunkSettings`), which
reach each worker once; what comes back is small: graphs as arrays, fingerprints packed to bits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from rdkit import Chem

from molprior.chem.featurize import featurize_mols
from molprior.chem.fingerprints import ecfp_of_mols
from molprior.chem.graphs import MolGraphs
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.chem.standardize import StandardizeOptions, standardize_to_mol
from molprior.data.leakage import seen_mask

SIMILARITY_BITS = 2048  # support similarity is the Tanimoto similarity of 2048-bit ECFP4


@dataclass(frozen=True)
class ChunkSettings:
    """What every chunk of a run is read with."""

    fingerprint_bits: tuple[int, ...] = ()  # the ECFP4 sizes wanted (the model's, the similarity's)
    seen: np.ndarray | None = None  # the model's record of its meta-training molecules
    seen_skeletons: np.ndarray | None = None  # and its prefilter
    options: StandardizeOptions = StandardizeOptions()


@dataclass
class PreparedChunk:
    """A chunk's inputs, standardised and featurised."""

    canonical: list[str | None]  # per input: its canonical SMILES, None when rejected
    errors: list[str]  # per input: why it has no score ('' when it has one, so far)
    graphs: MolGraphs  # the distinct canonical SMILES that featurised, in first-seen order
    packed_fingerprints: dict[int, np.ndarray]  # bits -> np.packbits of one ECFP4 row per graph
    seen: np.ndarray | None  # per graph: among the model's meta-training molecules

    def fingerprints(self, bits: int) -> np.ndarray:
        """The graphs' ECFP4 of ``bits`` bits as a uint8 0/1 matrix."""
        return np.unpackbits(self.packed_fingerprints[bits], axis=1, count=bits)


@quiet_rdkit()
def prepare_chunk(texts: Sequence[str], settings: ChunkSettings = ChunkSettings()) -> PreparedChunk:
    """Standardise, featurise and fingerprint ``texts`` as ``settings`` say."""
    canonical: list[str | None] = []
    errors: list[str] = []
    mols: dict[str, Chem.Mol] = {}
    for text in texts:
        result, mol = standardize_to_mol(text, settings.options)
        canonical.append(result.smiles)
        errors.append("" if result.ok else result.reason)
        if result.ok and result.smiles not in mols:
            mols[result.smiles] = mol
    smiles = list(mols)
    graphs, failed = featurize_mols(smiles, [mols[s] for s in smiles])
    if failed:
        reasons = {smiles[i]: f"cannot featurise: {reason}" for i, reason in failed.items()}
        errors = [reasons.get(c, e) if c is not None else e for c, e in zip(canonical, errors)]
    featurised = [mols[s] for s in graphs.smiles]
    packed = {bits: np.packbits(ecfp_of_mols(featurised, 2, bits), axis=1)
              for bits in dict.fromkeys(settings.fingerprint_bits)}
    seen = None
    if settings.seen is not None:
        seen = seen_mask(graphs.smiles, settings.seen, 1, settings.seen_skeletons, graphs)
    return PreparedChunk(canonical, errors, graphs, packed, seen)
