"""SMILES -> graph arrays, fast, in one process or several, with an on-disk cache.

**Input contract.** The input is RDKit canonical SMILES, as written by
:func:`molprior.chem.standardize.standardize_smiles` (every molecule passes through it
once, when a table is read).  Such a string has already been sanitised by RDKit, so
:func:`smiles_to_graph` parses it with only the sanitisation steps the features need
(valence and Hs, conjugation, hybridisation, rings) and skips kekulisation and
aromaticity perception, which dominate RDKit's parse time; the aromatic flags come from
the canonical string itself.  Per-atom properties are read with a handful of
single-atom SMARTS matches (C++ loops) instead of one Python call per atom and property.
Molecules the fast path does not cover (hydrogen atoms, charged or uncommon aromatic
bracket atoms such as ``[n+]`` or ``[se]``, zero-order bonds, a failed partial
sanitisation) take the exact per-atom route of
:func:`molprior.chem.features.reference_graph`; the tests check both routes give
identical arrays on real molecules.  Strings that are not canonical SMILES (a Kekulé
form, an invalid aromatic ring) are only handled correctly with
``featurize_smiles(..., canonical=False)``, which canonicalises them first.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
from rdkit import Chem

from molprior.chem.features import (
    ATOM_FEATURES,
    BOND_FEATURES,
    HYBRIDIZATION_INDEX,
    STEREO_INDEX,
    atomic_num_index,
    charge_index,
    chirality_index,
    num_hs_index,
    radical_index,
    reference_graph,
)
from molprior.chem.graphs import MolGraphs
from molprior.chem.rdkit_log import quiet_rdkit
from molprior.chem.standardize import canonical_smiles
from molprior.errors import InputError
from molprior.parallel import available_cores, map_in_processes

if TYPE_CHECKING:
    from molprior.chem.cache import FeatureCache

_S = Chem.SanitizeFlags
_FAST_SANITIZE = (
    _S.SANITIZE_FINDRADICALS
    | _S.SANITIZE_SETCONJUGATION
    | _S.SANITIZE_SETHYBRIDIZATION
    | _S.SANITIZE_ADJUSTHS
    | _S.SANITIZE_PROPERTIES
)
_ATOM_TOKEN = re.compile(r"\[[^\]]+\]|Br|Cl|[BCNOPSFIbcnops]")
_ORGANIC = {"B": 5, "C": 6, "N": 7, "O": 8, "P": 15, "S": 16, "F": 9, "Cl": 17, "Br": 35, "I": 53}


class FeaturizationError(InputError):
    """A SMILES string that cannot be turned into a graph."""


@lru_cache(maxsize=None)
@quiet_rdkit()
def _smarts(pattern: str) -> Chem.Mol:
    return Chem.MolFromSmarts(pattern)


# An organic-subset atom with a heavy neighbour carries at most 3 Hs; bracket atoms and
# isolated atoms (CH4) are read one by one instead.
_H_QUERIES = ((1, "[H1]"), (2, "[H2]"), (3, "[H3]"))
_AROMATIC_BRACKET_ELEMENTS = {6, 7, 8, 16}  # [cH-]-free, [nH], [o], [s]: no radical subtleties
_HYB_QUERIES = ((0, "[^1]"), (1, "[^2]"), (2, "[^3]"))


@lru_cache(maxsize=4096)
def _token_info(token: str) -> tuple[int, int, int, int] | None:
    """(atomic-number index, charge index, aromatic, is-bracket) of one atom token.

    ``None`` for tokens the fast path does not handle (hydrogen atoms, aromatic charged
    bracket atoms, unparseable brackets).
    """
    if token[0] != "[":
        z = _ORGANIC[token.capitalize() if len(token) == 1 else token]
        return atomic_num_index(z), charge_index(0), int(token.islower()), 0
    atom = Chem.AtomFromSmiles(token)
    if atom is None or atom.GetAtomicNum() == 1:
        return None
    if atom.GetIsAromatic() and (atom.GetFormalCharge() != 0 or atom.GetAtomicNum() not in _AROMATIC_BRACKET_ELEMENTS):
        return None
    return atomic_num_index(atom.GetAtomicNum()), charge_index(atom.GetFormalCharge()), int(atom.GetIsAromatic()), 1


def _matched(mol: Chem.Mol, pattern: str, n_atoms: int) -> list[int]:
    """Indices of the atoms matching a single-atom SMARTS pattern."""
    return [hit[0] for hit in mol.GetSubstructMatches(_smarts(pattern), uniquify=False, maxMatches=n_atoms)]


_BOND_TYPE_BY_TWICE_ORDER = np.array([4, 4, 0, 3, 1, 4, 2, 4], dtype=np.uint8)  # 2*order -> index


class _FastBatch:
    """Accumulates the molecules of a chunk that take the fast path, as flat lists; the
    arrays are built once per chunk (per-molecule NumPy work and allocations dominate
    otherwise)."""

    def __init__(self) -> None:
        self.smiles: list[str] = []
        self.info: list[tuple[int, int, int, int]] = []  # per atom: atomic num, charge, aromatic, bracket
        self.hs: list[int] = []
        self.hyb: list[int] = []
        self.ring: list[int] = []
        self.chiral: list[tuple[int, int]] = []  # (atom, index) where not 0
        self.radical: list[tuple[int, int]] = []
        self.src: list[np.ndarray] = []  # global atom indices
        self.dst: list[np.ndarray] = []
        self.orders: list[np.ndarray] = []
        self.conjugated: list[tuple[int, int]] = []  # global (i, j), i < j, non-aromatic conjugated bonds
        self.stereo: list[tuple[int, int, int]] = []  # global (i, j, index), i < j
        self.atoms: list[int] = []
        self.edges: list[int] = []

    def add(self, smiles: str, mol: Chem.Mol | None = None) -> bool:
        """Featurise one canonical SMILES into the batch; ``False`` if it needs the exact route.
        ``mol``, when given, is RDKit's (fully sanitised) parse of ``smiles``, read instead of
        parsing again."""
        given = mol is not None
        if not given:
            mol = Chem.MolFromSmiles(smiles, sanitize=False)
            if mol is None:
                return False
        n = mol.GetNumAtoms()
        tokens = _ATOM_TOKEN.findall(smiles)
        if len(tokens) != n or n == 0:
            return False
        info = [_token_info(t) for t in tokens]
        if None in info:
            return False
        if not given and Chem.SanitizeMol(mol, _FAST_SANITIZE, catchErrors=True) != _S.SANITIZE_NONE:
            return False
        adjacency = Chem.GetAdjacencyMatrix(mol, useBO=True)
        src, dst = np.nonzero(adjacency)
        if len(src) != 2 * mol.GetNumBonds():  # zero-order or dative bonds
            return False
        Chem.FastFindRings(mol)
        # Chiral tags come from the parser (a canonical string has '@' only on real
        # stereocentres); E/Z labels need RDKit's perception of the directional bonds.
        has_stereo = "/" in smiles or "\\" in smiles
        if has_stereo:
            Chem.AssignStereochemistry(mol, cleanIt=True, force=True)

        base = len(self.hs)
        hs = [0] * n
        for k, pattern in _H_QUERIES:
            for i in _matched(mol, pattern, n):
                hs[i] = k
        hyb = [255] * n
        for value, pattern in _HYB_QUERIES:
            for i in _matched(mol, pattern, n):
                hyb[i] = value
        if 255 in hyb:
            for i in [i for i, h in enumerate(hyb) if h == 255]:
                hyb[i] = HYBRIDIZATION_INDEX.get(mol.GetAtomWithIdx(i).GetHybridization(), 5)
        ring = [0] * n
        for i in _matched(mol, "[R]", n):
            ring[i] = 1
        isolated = n == 1 or "." in smiles  # only an atom without heavy neighbours (CH4) has 4 Hs
        for i, (_, _, _, bracket) in enumerate(info):
            if bracket or (isolated and not (adjacency[i] != 0).any()):
                atom = mol.GetAtomWithIdx(i)
                hs[i] = num_hs_index(atom.GetTotalNumHs())
                if bracket:
                    radicals = atom.GetNumRadicalElectrons()
                    if radicals:
                        self.radical.append((base + i, radical_index(radicals)))
        if "@" in smiles:
            for i, token in enumerate(tokens):
                if "@" in token:
                    tag = int(mol.GetAtomWithIdx(i).GetChiralTag())
                    if tag:
                        self.chiral.append((base + i, chirality_index(tag)))

        orders = adjacency[src, dst]
        for a, b, order in zip(src.tolist(), dst.tolist(), orders.tolist()):
            if a < b:
                if order != 1.5 and hyb[a] <= 1 and hyb[b] <= 1:
                    if mol.GetBondBetweenAtoms(a, b).GetIsConjugated():
                        self.conjugated.append((base + a, base + b))
                if has_stereo and order == 2.0:
                    stereo = STEREO_INDEX.get(mol.GetBondBetweenAtoms(a, b).GetStereo(), 5)
                    if stereo:
                        self.stereo.append((base + a, base + b, stereo))
        self.smiles.append(smiles)
        self.info.extend(info)
        self.hs.extend(hs)
        self.hyb.extend(hyb)
        self.ring.extend(ring)
        self.src.append(src + base)
        self.dst.append(dst + base)
        self.orders.append(orders)
        self.atoms.append(n)
        self.edges.append(len(src))
        return True

    def build(self) -> MolGraphs:
        if not self.smiles:
            return MolGraphs.empty()
        n_total = len(self.hs)
        info = np.array(self.info, dtype=np.uint8).reshape(-1, 4)
        x = np.zeros((n_total, len(ATOM_FEATURES)), dtype=np.uint8)
        x[:, 0] = info[:, 0]
        x[:, 3] = info[:, 1]
        x[:, 7] = info[:, 2]
        x[:, 4] = self.hs
        x[:, 6] = self.hyb
        x[:, 8] = self.ring
        for column, pairs in ((1, self.chiral), (5, self.radical)):
            if pairs:
                index, value = zip(*pairs)
                x[list(index), column] = value
        src = np.concatenate(self.src)
        dst = np.concatenate(self.dst)
        orders = np.concatenate(self.orders)
        heavy_degree = np.bincount(src, minlength=n_total)
        x[:, 2] = np.minimum(heavy_degree + x[:, 4], 11)
        edge_attr = np.zeros((len(src), len(BOND_FEATURES)), dtype=np.uint8)
        bond_type = _BOND_TYPE_BY_TWICE_ORDER[np.minimum(np.rint(orders * 2), 7).astype(np.intp)]
        edge_attr[:, 0] = bond_type
        edge_attr[:, 2] = bond_type == 3  # aromatic bonds are conjugated
        keys = src * n_total + dst  # sorted: molecules in order, edges by (src, dst) within each
        for column, triples in ((2, [(a, b, 1) for a, b in self.conjugated]), (1, self.stereo)):
            if triples:
                a, b, value = (np.asarray(v, dtype=np.int64) for v in zip(*triples))
                forward = np.searchsorted(keys, a * n_total + b)
                backward = np.searchsorted(keys, b * n_total + a)
                edge_attr[forward, column] = value
                edge_attr[backward, column] = value
        atom_ptr = np.concatenate([[0], np.cumsum(self.atoms)]).astype(np.int64)
        edge_ptr = np.concatenate([[0], np.cumsum(self.edges)]).astype(np.int64)
        offsets = np.repeat(atom_ptr[:-1], self.edges)
        edge_index = np.stack([src - offsets, dst - offsets]).astype(np.int64)
        return MolGraphs(list(self.smiles), x, edge_index, edge_attr, atom_ptr, edge_ptr)


def _exact_graph(smiles: str, mol: Chem.Mol | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mol = Chem.MolFromSmiles(smiles) if mol is None else mol
    if mol is None:
        raise FeaturizationError(f"RDKit cannot parse or sanitise SMILES {smiles!r}")
    if mol.GetNumAtoms() == 0:
        raise FeaturizationError("empty molecule")
    return reference_graph(mol)


def _fast_graph(smiles: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Graph arrays through the fast path, or ``None`` when the exact route is needed."""
    batch = _FastBatch()
    return batch.build().arrays(0) if batch.add(smiles) else None


@quiet_rdkit()
def smiles_to_graph(smiles: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph arrays ``(x, edge_index, edge_attr)`` of one canonical SMILES.

    Raises :class:`FeaturizationError` when RDKit cannot parse or sanitise it.
    """
    fast = _fast_graph(smiles)
    return fast if fast is not None else _exact_graph(smiles)


@quiet_rdkit()
def _featurize_chunk(smiles: Sequence[str]) -> tuple[MolGraphs, dict[int, str]]:
    """Graphs of a chunk, in input order (failures left out), and errors by position."""
    return featurize_mols(smiles)


@quiet_rdkit()
def featurize_mols(smiles: Sequence[str], mols: Sequence[Chem.Mol] | None = None) -> tuple[MolGraphs, dict[int, str]]:
    """Graphs of canonical ``smiles`` in this process, in input order (failures left out), and
    the errors by position; ``mols``, when given, are RDKit's parses of them (no parse here)."""
    batch = _FastBatch()
    fast_positions, exact, exact_positions, errors = [], [], [], {}
    for i, s in enumerate(smiles):
        mol = None if mols is None else mols[i]
        if batch.add(s, mol):
            fast_positions.append(i)
            continue
        try:
            exact.append(_exact_graph(s, mol))
            exact_positions.append(i)
        except FeaturizationError as error:
            errors[i] = str(error)
    graphs = batch.build()
    if exact:
        graphs = MolGraphs.concat([graphs, MolGraphs.from_arrays([smiles[i] for i in exact_positions], exact)])
        order = np.argsort(np.asarray(fast_positions + exact_positions), kind="stable")
        graphs = graphs.select(order)
    return graphs, errors


@dataclass
class FeaturizationResult:
    """Graphs of the molecules that featurised, in input order, and why the others did not."""

    graphs: MolGraphs
    index: np.ndarray  # positions in the input of graphs[0], graphs[1], ...
    errors: dict[int, str] = field(default_factory=dict)
    from_cache: int = 0  # how many graphs came from the on-disk cache


@quiet_rdkit()
def featurize_smiles(
    smiles: Sequence[str],
    n_jobs: int = 1,
    cache: "FeatureCache | None" = None,
    chunk_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    canonical: bool = True,
) -> FeaturizationResult:
    """Featurise SMILES into one :class:`MolGraphs` store.

    Args:
        smiles: RDKit canonical SMILES (see the module docstring); duplicates are
            featurised once.  With ``canonical=False`` any SMILES is accepted: each is
            canonicalised first (at the cost of a full RDKit parse) and the graphs are
            keyed by the canonical form.
        n_jobs: worker processes (``-1``: all cores).
        cache: an on-disk :class:`~molprior.chem.cache.FeatureCache`; graphs found there are
            not recomputed, and new ones are added to it.
        chunk_size: molecules per task handed to a worker.
        progress: called with the number of molecules done after each chunk.
    """
    smiles = list(smiles)
    invalid: dict[int, str] = {}
    if not canonical:
        converted = []
        for i, s in enumerate(smiles):
            c = canonical_smiles(s) if isinstance(s, str) and s else None
            if c is None:
                invalid[i] = f"RDKit cannot parse or sanitise SMILES {s!r}"
            converted.append(c or "")
        smiles = converted
    unique = [s for s in dict.fromkeys(smiles) if s]
    found: dict[str, int] = {}
    stores: list[MolGraphs] = []
    if cache is not None:
        cached = cache.get_many(unique)
        if len(cached):
            stores.append(cached)
            found.update({s: i for i, s in enumerate(cached.smiles)})
            if progress:
                progress(len(cached))
    todo = [s for s in unique if s not in found]
    errors_by_smiles: dict[str, str] = {}
    new_stores = []
    for store, errors, chunk in _run_chunks(todo, n_jobs, chunk_size):
        new_stores.append(store)
        errors_by_smiles.update({chunk[i]: reason for i, reason in errors.items()})
        if progress:
            progress(len(chunk))
    fresh = MolGraphs.concat(new_stores) if new_stores else MolGraphs.empty()
    if cache is not None and len(fresh):
        cache.put_many(fresh)
    everything = MolGraphs.concat(stores + [fresh]) if stores else fresh
    position = {s: i for i, s in enumerate(everything.smiles)}
    index, order, errors = [], [], {}
    for i, s in enumerate(smiles):
        if i in invalid:
            errors[i] = invalid[i]
        elif s in position:
            index.append(i)
            order.append(position[s])
        else:
            errors[i] = errors_by_smiles.get(s, "empty SMILES" if not s else "not featurised")
    graphs = everything.select(np.asarray(order, dtype=np.int64))
    return FeaturizationResult(graphs, np.asarray(index, dtype=np.int64), errors, from_cache=len(found))


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _run_chunks(todo: Sequence[str], n_jobs: int, chunk_size: int):
    if not todo:
        return
    workers = available_cores() if n_jobs == -1 else max(1, n_jobs)
    chunks = list(_chunks(todo, chunk_size))
    for chunk, (store, errors) in zip(chunks, map_in_processes(_featurize_chunk, chunks, workers, start="fork")):
        yield store, errors, chunk

