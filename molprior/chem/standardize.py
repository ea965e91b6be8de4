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
from rdkit import Chem
from rdkit.Chem.MolStandardize import rdMolStandardize

from molprior.chem.rdkit_log import quiet_rdkit
from molprior.errors import InputError


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
        rdMolStandardize.LargestFragmentChooser(preferOrganic=True),
        rdMolStandardize.Uncharger(canonicalOrder=True),
        rdMolStandardize.TautomerEnumerator(),
    )


@lru_cache(maxsize=1)
def _cleanup_tools():
    parameters = rdMolStandardize.CleanupParameters()
    return (rdMolStandardize.MetalDisconnector(), rdMolStandardize.NormalizerFromParams(parameters),
            rdMolStandardize.Reionizer())


@lru_cache(maxsize=1)
def _queries() -> tuple[Chem.Mol, Chem.Mol, Chem.Mol, Chem.Mol]:
    """SMARTS run in C++ instead of Python loops over atoms: a charged atom; an atom the
    reioniser acts on (a charged one, or an unbonded Li, Na, K, Mg, Ca or Cl, which its charge
    corrections charge); a hydrogen atom; an atom a normalisation acts on (:data:`NORMALIZABLE`)."""
    return (Chem.MolFromSmarts("[!+0]"),
            Chem.MolFromSmarts("[!+0,$([Li,Na,K,Mg,Ca,Cl;D0])]"),
            Chem.MolFromSmarts("[#1]"),
            Chem.MolFromSmarts(NORMALIZABLE))


#: Atoms RDKit's default normalisations can act on: every one of them needs a charged atom,
#: except those for nitro-like groups (an N, P, As or Sb with two double bonds), N-oxides
#: written as n=O, azides and diazo groups (an N#N bond) and sulfoxides (a three-connected S
#: double-bonded to O).  A molecule without any is left as it is by the normaliser.
NORMALIZABLE = "[!+0,$([#7,#15,#33,#51](=*)=*),$(n=*),$([#7]#[#7]),$([#16X3]=[#8])]"


def has_charged_atom(mol: Chem.Mol) -> bool:
    """Whether any atom of ``mol`` carries a formal charge."""
    return mol.HasSubstructMatch(_queries()[0])


def cleanup(mol: Chem.Mol) -> Chem.Mol:
    """``rdMolStandardize.Cleanup(mol)`` with the default parameters, step for step (remove Hs,
    disconnect metals, normalise, reionise, reassign stereochemistry), cheaper, for a
    sanitised ``mol``: Cleanup builds its normaliser and reioniser afresh on every call, most of
    its cost, and here they are built once; what cannot change the molecule is skipped (the
    re-sanitisation after removing Hs when there is no H atom to remove, the normaliser
    without an atom any of its transforms matches, the reioniser without a charged atom or an
    unbonded metal or chloride to act on).  For an input that was already standard, most
    inputs of a screening library, that leaves little but the stereochemistry to reassign.
    The canonical SMILES are RDKit Cleanup's, tested on real libraries."""
    disconnector, normalizer, reionizer = _cleanup_tools()
    _, reionizable, hydrogen, normalizable = _queries()
    result = Chem.RWMol(Chem.RemoveHs(mol, sanitize=mol.HasSubstructMatch(hydrogen)))
    disconnector.DisconnectInPlace(result)
    if result.HasSubstructMatch(normalizable):
        normalizer.normalizeInPlace(result)
    if result.HasSubstructMatch(reionizable):
        reionizer.reionizeInPlace(result)
    Chem.AssignStereochemistry(result, cleanIt=True, force=True)
    return result


@quiet_rdkit()
def parse_problem(smiles: str) -> str:
    """Why RDKit rejects ``smiles``: a syntax error, a valence error, a kekulisation failure."""
    mol = Chem.MolFromSmiles(smiles, sanitize=False)
    if mol is None:
        return "unparseable SMILES (syntax error)"
    try:
        problems = Chem.DetectChemistryProblems(mol)
    except Exception as error:  # noqa: BLE001 - RDKit's C++ pre-conditions (e.g. an atom of 150 bonds)
        atom = max(mol.GetAtoms(), key=lambda a: a.GetDegree(), default=None)
        if atom is not None and atom.GetDegree() > 8:
            return f"valence error: atom # {atom.GetIdx()} {atom.GetSymbol()} has {atom.GetDegree()} neighbours"
        return f"RDKit could not check the molecule: {str(error).splitlines()[0] if str(error) else type(error).__name__}"
    if problems:
        first = problems[0]
        kind = {
            "AtomValenceException": "valence error",
            "AtomKekulizeException": "kekulisation failure",
            "KekulizeException": "kekulisation failure",
        }.get(first.GetType(), first.GetType())
        return f"{kind}: {first.Message()}"
    return "RDKit could not sanitise the molecule"


#: Metals that occur as counter-ions of drug salts (alkali and alkaline-earth metals, zinc,
#: aluminium): a fragment of these alone is a salt that the largest-fragment step may drop.
#: Any other metal in a dropped fragment means the input was a metal complex or an
#: organometallic written as ions (ferrocene as ``[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1``), whose
#: organic "largest fragment" is not the molecule that was measured.
COUNTER_ION_METALS = frozenset({"Li", "Na", "K", "Rb", "Cs", "Be", "Mg", "Ca", "Sr", "Ba", "Zn", "Al"})
_NON_METALS = frozenset({"H", "He", "B", "C", "N", "O", "F", "Ne", "Si", "P", "S", "Cl", "Ar", "As", "Se", "Br",
                         "Kr", "Te", "I", "Xe", "At", "Rn"})


class StandardizationError(InputError):
    """A molecule that standardisation cannot write faithfully (the reason is the message)."""


def _read_back(mol: Chem.Mol, parsed: tuple[str, Chem.Mol] | None = None) -> tuple[str, Chem.Mol] | None:
    """The canonical SMILES of ``mol`` and the molecule RDKit parses from it, if that parses
    to the same canonical SMILES again (what every later stage relies on), else ``None``.
    ``parsed`` is a SMILES with RDKit's parse of it (the input): when the canonical SMILES is
    that string, its parse is already there (an input that was standard)."""
    try:
        smiles = Chem.MolToSmiles(mol)
    except Exception:  # noqa: BLE001 - RDKit raises bare RuntimeErrors from C++
        return None
    if parsed is not None and smiles == parsed[0]:
        again = parsed[1]
    else:
        again = Chem.MolFromSmiles(smiles) if smiles else None
    if again is None or Chem.MolToSmiles(again) != smiles:
        return None
    return smiles, again


def written_back(mol: Chem.Mol) -> str | None:
    """The canonical SMILES of ``mol`` if it parses again to the same canonical SMILES, else ``None``."""
    result = _read_back(mol)
    return None if result is None else result[0]


def _metals(mol: Chem.Mol) -> set[str]:
    return {atom.GetSymbol() for atom in mol.GetAtoms() if atom.GetSymbol() not in _NON_METALS}


def _step(mol: Chem.Mol, step, what: str, notes: list[str], checked: bool) -> Chem.Mol:
    """``step(mol)``; when ``checked``, only if its result can be written back, otherwise
    ``mol`` unchanged and a note saying so."""
    if not checked:
        return step(mol)
    try:
        result = step(mol)
    except Exception:  # noqa: BLE001
        result = None
    if result is not None and written_back(result) is not None:
        return result
    notes.append(f"{what} skipped: its result could not be written back as SMILES")
    return mol


def _steps(mol: Chem.Mol, options: StandardizeOptions, checked: bool) -> tuple[Chem.Mol, list[str]]:
    chooser, uncharger, tautomers = _tools()
    notes: list[str] = []
    mol = _step(mol, cleanup, "cleanup", notes, checked)
    if options.largest_fragment and len(Chem.GetMolFrags(mol)) > 1:
        fragments = Chem.GetMolFrags(mol, asMols=True)
        kept = chooser.choose(mol)
        kept_smiles = Chem.MolToSmiles(kept)
        dropped = [f for f in fragments if Chem.MolToSmiles(f) != kept_smiles]
        metals = sorted(set().union(*(_metals(f) for f in dropped)) - COUNTER_ION_METALS) if dropped else []
        if metals:
            raise StandardizationError(
                f"metal complex or organometallic ({', '.join(metals)}): the metal is part of the molecule, not a "
                "counter-ion, so no organic fragment represents it faithfully; molprior does not model metal complexes")
        mol = _step(mol, lambda _: kept, "largest fragment", notes, checked)
        if mol is kept:
            notes.append("kept largest fragment")
    if options.neutralize and has_charged_atom(mol):
        charges = [atom.GetFormalCharge() for atom in mol.GetAtoms()]
        mol = _step(mol, uncharger.uncharge, "neutralisation", notes, checked)
        if [atom.GetFormalCharge() for atom in mol.GetAtoms()] != charges:
            notes.append("neutralised")
    if options.canonical_tautomer:
        mol = _step(mol, tautomers.Canonicalize, "tautomer canonicalisation", notes, checked)
    return mol, notes


def _standardized(mol: Chem.Mol, options: StandardizeOptions,
                  text: str | None = None) -> tuple[Chem.Mol, tuple[str, Chem.Mol] | None, list[str]]:
    """The standardised molecule, its canonical SMILES with the molecule parsed back from it
    (``None`` when even the step-by-step path cannot write one that parses back) and the
    notes.  The steps run unchecked first (the usual case costs one write-back check); only a
    result that does not parse back is redone step by step, each step checked.  ``text``, when
    given, is the SMILES ``mol`` was parsed from (left unchanged here): when standardisation
    writes it back as it was, ``mol`` is its parse and none is needed."""
    try:
        result, notes = _steps(Chem.Mol(mol), options, checked=False)
        back = _read_back(result, None if text is None else (text, mol))
    except StandardizationError:
        raise
    except Exception:  # noqa: BLE001 - a step RDKit fails on: the checked path skips it
        back = None
    if back is not None:
        return result, back, notes
    result, notes = _steps(Chem.Mol(mol), options, checked=True)
    return result, _read_back(result), notes


def standardize_mol(mol: Chem.Mol, options: StandardizeOptions = StandardizeOptions()) -> tuple[Chem.Mol, list[str]]:
    """Standardise a sanitised molecule; returns it with notes on what changed.

    Every step must leave a molecule whose SMILES parses back to itself: a step that does
    not (the uncharger on a mesoionic ring or on ``[SbH6+3]``, the cleanup's charge
    recombination on molsidomine) is skipped with a note, so the molecule keeps the form it
    was given.  Raises :class:`StandardizationError` for a metal complex written as ions,
    which has no faithful largest fragment, and for a molecule RDKit cannot write back at all.
    """
    result, back, notes = _standardized(mol, options)
    if back is None:
        raise StandardizationError(CANNOT_WRITE_BACK)
    return result, notes


#: The reason for a molecule whose canonical SMILES RDKit cannot read back.
CANNOT_WRITE_BACK = "RDKit cannot write this molecule as SMILES that parses back to it"


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


@quiet_rdkit()
def standardize_smiles(smiles: object, options: StandardizeOptions = StandardizeOptions()) -> Standardized:
    """Standardise one input value; never raises for bad input, it returns the reason."""
    return standardize_to_mol(smiles, options)[0]


def standardize_to_mol(smiles: object,
                       options: StandardizeOptions = StandardizeOptions()) -> tuple[Standardized, Chem.Mol | None]:
    """:func:`standardize_smiles`, with the molecule RDKit parses from the canonical SMILES
    (``None`` when rejected): what featurisation and fingerprints read, with no parse of their
    own.  Not silenced itself (a per-molecule call): run it inside :class:`quiet_rdkit`."""
    text = "" if smiles is None else str(smiles)
    if _is_missing(smiles):
        return Standardized(text, None, "missing SMILES"), None
    stripped = text.strip()
    if not stripped:
        return Standardized(text, None, "empty SMILES"), None
    if "\ufffd" in stripped:
        return Standardized(text, None, "invalid UTF-8 bytes in SMILES"), None
    stripped = stripped.split(maxsplit=1)[0]  # SMILES may carry a name after whitespace
    try:
        mol = Chem.MolFromSmiles(stripped)
    except Exception:  # noqa: BLE001 - RDKit raises bare RuntimeErrors from C++
        mol = None
    if mol is None:
        return Standardized(text, None, parse_problem(stripped)), None
    heavy = mol.GetNumHeavyAtoms()
    if heavy == 0:
        return Standardized(text, None, "no heavy atoms"), None
    if heavy > options.max_heavy_atoms:
        return Standardized(text, None, f"too large: {heavy} heavy atoms (limit {options.max_heavy_atoms})"), None
    try:
        mol, back, notes = _standardized(mol, options, stripped)
    except StandardizationError as error:
        return Standardized(text, None, str(error)), None
    except Exception as error:  # RDKit raises bare RuntimeErrors from C++
        return Standardized(text, None, f"standardisation failed: {error}"), None
    if mol.GetNumAtoms() == 0:
        return Standardized(text, None, "standardisation left no molecule"), None
    if back is None:
        return Standardized(text, None, CANNOT_WRITE_BACK), None
    return Standardized(text, back[0], None, tuple(notes)), back[1]


@quiet_rdkit()
def canonical_smiles(smiles: str) -> str | None:
    """RDKit canonical SMILES of ``smiles`` without standardisation, ``None`` if invalid."""
    mol = Chem.MolFromSmiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)
