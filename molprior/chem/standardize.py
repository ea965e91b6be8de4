"""Parse, sanitise and standardise molecules with RDKit, giving a reason for every rejection.

The steps follow the ChEMBL structure pipeline's order using RDKit's ``rdMolStandardize``:
parse -> sanitise -> size check -> cleanup (normalisations such as nitro groups and
charge-separated forms) -> keep the largest organic fragment (salts and solvents go) ->
neutralise -> canonical SMILES.  Tautomer canonicalisation is available but off by
default (it is slow and changes the structure a chemist typed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd
from rdkit import Chem, RDLogger
from rdkit.Chem.MolStandardize import rdMolStandardize

RDLogger.DisableLog("rdApp.*")

#: Molecules with more heavy atoms than this are rejected (proteins, polymers, mistakes).
DEFAULT_MAX_HEAVY_ATOMS = 1000


@dataclass(frozen=True)
class StandardizeOptions:
    """What :func:`standardize_smiles` does besides parsing."""

    largest_fragment: bool = True
    neutralize: bool = True
    canonical_tautomer: bool = False
    max_heavy_atoms: int = DEFAULT_MAX_HEAVY_ATOMS


@dataclass(frozen=True)
class Standardized:
    """The outcome for one input: a canonical SMILES, or ``None`` with the reason."""

    input: str
    smiles: str | None
    reason: str | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return self.smiles is not None


@lru_cache(maxsize=1)
def _tools():
    return (
        rdMolStandardize.CleanupParameters(),
        rdMolStandardize.LargestFragmentChooser(preferOrganic=True),
        rdMolStandardize.Uncharger(canonicalOrder=True),
        rdMolStandardize.TautomerEnumerator(),
    )


def parse_problem(smiles: str) -> str:
    """Why RDKit rejects ``smiles``: a syntax error, a valence error, a kekulisation failure."""
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return "unparseable SMILES (syntax error)"
    problems = Chem.DetectChemistryProblems(mol)
    if problems:
        first = problems[0]
        kind = {
            "AtomValenceException": "valence error",
            "AtomKekulizeException": "kekulisation failure",
            "KekulizeException": "kekulisation failure",
        }.get(first.GetType(), first.GetType())
        return f"{kind}: {first.Message()}"
    return "RDKit could not sanitise the molecule"


def standardize_mol(mol: Chem.Mol, options: StandardizeOptions = StandardizeOptions()) -> tuple[Chem.Mol, list[str]]:
    """Standardise a sanitised molecule; returns it with notes on what changed."""
    cleanup, chooser, uncharger, tautomers = _tools()
    notes: list[str] = []
    mol = rdMolStandardize.Cleanup(mol, cleanup)
    if options.largest_fragment and len(Chem.GetMolFrags(mol)) > 1:
        mol = chooser.choose(mol)
        notes.append("kept largest fragment")
    if options.neutralize and any(atom.GetFormalCharge() for atom in mol.GetAtoms()):
        charges = [atom.GetFormalCharge() for atom in mol.GetAtoms()]
        mol = uncharger.uncharge(mol)
        if [atom.GetFormalCharge() for atom in mol.GetAtoms()] != charges:
            notes.append("neutralised")
    if options.canonical_tautomer:
        mol = tautomers.Canonicalize(mol)
    return mol, notes


def _is_missing(value: object) -> bool:
    """None, NaN of any float type, or pandas' NA."""
    if value is None:
        return True
    if isinstance(value, str):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # arrays and other non-scalars are not "missing"
        return False


def standardize_smiles(smiles: object, options: StandardizeOptions = StandardizeOptions()) -> Standardized:
    """Standardise one input value; never raises for bad input, it returns the reason."""
    text = "" if smiles is None else str(smiles)
    if _is_missing(smiles):
        return Standardized(text, None, "missing SMILES")
    stripped = text.strip()
    if not stripped:
        return Standardized(text, None, "empty SMILES")
    if "\ufffd" in stripped:
        return Standardized(text, None, "invalid UTF-8 bytes in SMILES")
    if any(c.isspace() for c in stripped):
        stripped = stripped.split()[0]  # SMILES may carry a name after whitespace
    mol = Chem.MolFromSmiles(stripped)
    if mol is None:
        return Standardized(text, None, parse_problem(stripped))
    heavy = mol.GetNumHeavyAtoms()
    if heavy == 0:
        return Standardized(text, None, "no heavy atoms")
    if heavy > options.max_heavy_atoms:
        return Standardized(text, None, f"too large: {heavy} heavy atoms (limit {options.max_heavy_atoms})")
    try:
        mol, notes = standardize_mol(mol, options)
        canonical = Chem.MolToSmiles(mol)
    except Exception as error:  # RDKit raises bare RuntimeErrors from C++
        return Standardized(text, None, f"standardisation failed: {error}")
    if not canonical:
        return Standardized(text, None, "standardisation left no molecule")
    return Standardized(text, canonical, None, tuple(notes))


def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES of ``smiles`` without standardisation, ``None`` if invalid."""
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)
