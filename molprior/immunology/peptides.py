"""Peptides as molecules: sequence checks with per-position reasons, and sequence -> RDKit.

A peptide is a molecule, so immunology work runs through the same graph encoder as small
molecules: ``Chem.MolFromSequence`` builds the all-atom structure of a sequence of the 20
standard residues; ``Chem.MolFromHELM`` covers modified residues written in HELM.
"""

from __future__ import annotations

from dataclasses import dataclass

from rdkit import Chem

from molprior.chem.rdkit_log import quiet_rdkit
from molprior.errors import InputError

STANDARD_RESIDUES = frozenset("ACDEFGHIKLMNPQRSTVWY")
DEFAULT_LENGTHS = (8, 15)  # MHC class I ligands

_NON_STANDARD = {
    "X": "unknown residue X",
    "B": "ambiguous residue B (D or N)",
    "Z": "ambiguous residue Z (E or Q)",
    "J": "ambiguous residue J (I or L)",
    "U": "non-standard residue U (selenocysteine)",
    "O": "non-standard residue O (pyrrolysine)",
    "*": "stop codon '*'",
}


@dataclass(frozen=True)
class PeptideCheck:
    """A normalised peptide, or ``None`` with the reason; notes say what was normalised."""

    input: str
    peptide: str | None
    reason: str | None = None
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.peptide is not None


def check_peptide(text: object, lengths: tuple[int, int] = DEFAULT_LENGTHS) -> PeptideCheck:
    """Normalise case and whitespace, then check residues and length."""
    raw = "" if text is None or (isinstance(text, float) and text != text) else str(text)
    notes = []
    peptide = raw.strip()
    if peptide != raw:
        notes.append("whitespace removed")
    if not peptide:
        return PeptideCheck(raw, None, "empty peptide")
    if peptide != peptide.upper():
        peptide = peptide.upper()
        notes.append("upper-cased")
    for position, residue in enumerate(peptide, start=1):
        if residue in STANDARD_RESIDUES:
            continue
        if residue in _NON_STANDARD:
            why = _NON_STANDARD[residue]
        elif residue.isdigit():
            why = f"digit {residue!r}"
        elif residue.isspace():
            why = "whitespace inside the sequence"
        else:
            why = f"invalid character {residue!r}"
        return PeptideCheck(raw, None, f"{why} at position {position}", tuple(notes))
    low, high = lengths
    if not low <= len(peptide) <= high:
        return PeptideCheck(raw, None, f"length {len(peptide)} outside the supported range {low}-{high}", tuple(notes))
    return PeptideCheck(raw, peptide, None, tuple(notes))


@quiet_rdkit()
def peptide_to_mol(sequence: str) -> Chem.Mol:
    """All-atom molecule of a sequence of standard residues (raises ``ValueError`` otherwise)."""
    if not sequence or any(r not in STANDARD_RESIDUES for r in sequence):
        raise InputError(f"not a sequence of standard residues: {sequence!r}")
    mol = Chem.MolFromSequence(sequence)
    if mol is None:
        raise InputError(f"RDKit could not build peptide {sequence!r}")
    return mol


@quiet_rdkit()
def helm_to_mol(helm: str) -> Chem.Mol:
    """Molecule of a HELM string, e.g. ``PEPTIDE1{A.C.[dA].K}$$$$`` for modified residues."""
    mol = Chem.MolFromHELM(helm)
    if mol is None:
        raise InputError(f"RDKit could not read HELM {helm!r}")
    return mol


@quiet_rdkit()
def peptide_to_smiles(sequence: str) -> str:
    """Canonical SMILES of a standard-residue peptide."""
    return Chem.MolToSmiles(peptide_to_mol(sequence))
