"""Input kinds: how a task's inputs become molecular graphs and ECFP4 bits.

A peptide is a molecule: every kind featurises its inputs into :class:`MolGraphs` in the one
atom and bond feature space, keyed by the input's own text, so the same encoder, heads,
learners and baselines serve them all.  A kind is a name, a featuriser and a fingerprinter;
a new kind of input (say, a HELM string) registers its pair with :func:`register_input_kind`.

- ``smiles``: canonical SMILES (:mod:`molprior.chem.standardize`); the molecule's graph
  (:mod:`molprior.chem.featurize`) and ECFP4.
- ``peptide``: sequences of standard residues in upper case, two or more (what
  :func:`~molprior.immunology.peptides.check_peptide` writes); the all-atom peptide's graph, built
  from residue templates (:mod:`molprior.immunology.peptide_graphs`), and the ECFP4 of its SMILES.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from molprior.chem.featurize import featurize_smiles
from molprior.chem.fingerprints import ecfp_with_errors
from molprior.chem.graphs import MolGraphs
from molprior.immunology.peptide_graphs import peptide_graphs
from molprior.immunology.peptides import check_peptide, peptide_to_smiles

if TYPE_CHECKING:
    from molprior.chem.cache import FeatureCache

#: ``(distinct inputs, n_jobs, cache) -> (graphs of those that featurised, keyed by input;
#: the reason by input for the others)``
Featuriser = Callable[[Sequence[str], int, "FeatureCache | None"], tuple[MolGraphs, dict[str, str]]]
#: ``(inputs, n_bits) -> (ECFP4 bits, one row per input; the reason by position for rows left zero)``
Fingerprinter = Callable[[Sequence[str], int], tuple[np.ndarray, dict[int, str]]]


@dataclass(frozen=True)
class InputKind:
    """One kind of input: its name, its featuriser and its fingerprinter."""

    name: str
    featurise: Featuriser
    fingerprints: Fingerprinter


INPUT_KINDS: dict[str, InputKind] = {}


def register_input_kind(kind: InputKind) -> InputKind:
    """Add a kind (its name must be new)."""
    if kind.name in INPUT_KINDS:
        raise ValueError(f"input kind {kind.name!r} is already registered")
    INPUT_KINDS[kind.name] = kind
    return kind


def input_kind(name: str) -> InputKind:
    """The registered kind ``name``; ``ValueError`` lists the known ones."""
    try:
        return INPUT_KINDS[name]
    except KeyError:
        raise ValueError(f"unknown input kind {name!r}; known: {', '.join(INPUT_KINDS)}") from None


# ---- smiles -------------------------------------------------------------------------------

def _featurise_smiles(smiles: Sequence[str], n_jobs: int = 1,
                      cache: "FeatureCache | None" = None) -> tuple[MolGraphs, dict[str, str]]:
    result = featurize_smiles(smiles, n_jobs=n_jobs, cache=cache)
    return result.graphs, {smiles[i]: reason for i, reason in result.errors.items()}


def _smiles_fingerprints(smiles: Sequence[str], n_bits: int = 2048) -> tuple[np.ndarray, dict[int, str]]:
    return ecfp_with_errors(smiles, n_bits=n_bits)


# ---- peptide ------------------------------------------------------------------------------

def peptide_problem(peptide: object) -> str | None:
    """Why ``peptide`` is not a peptide input (standard residues in upper case, no whitespace,
    two residues or more), or ``None``."""
    check = check_peptide(peptide, lengths=(2, np.iinfo(np.int64).max))
    if check.peptide is None:
        return check.reason
    if check.peptide != peptide:
        return f"not a normalised peptide ({'; '.join(check.notes)}): {peptide!r}"
    return None


def _featurise_peptides(peptides: Sequence[str], n_jobs: int = 1,
                        cache: "FeatureCache | None" = None) -> tuple[MolGraphs, dict[str, str]]:
    """Residue-template graphs; ``n_jobs`` and ``cache`` are not needed (templates are built
    once) and the SMILES cache is never shared with peptide sequences ("CC" is both)."""
    errors = {p: reason for p in peptides if (reason := peptide_problem(p)) is not None}
    return peptide_graphs([p for p in peptides if p not in errors]).graphs, errors


def _peptide_fingerprints(peptides: Sequence[str], n_bits: int = 2048) -> tuple[np.ndarray, dict[int, str]]:
    problems = {i: reason for i, p in enumerate(peptides) if (reason := peptide_problem(p)) is not None}
    good = [i for i in range(len(peptides)) if i not in problems]
    bits, errors = ecfp_with_errors([peptide_to_smiles(peptides[i]) for i in good], n_bits=n_bits)
    out = np.zeros((len(peptides), n_bits), dtype=np.uint8)
    out[good] = bits
    problems.update({good[k]: reason for k, reason in errors.items()})
    return out, dict(sorted(problems.items()))


SMILES = register_input_kind(InputKind("smiles", _featurise_smiles, _smiles_fingerprints))
PEPTIDE = register_input_kind(InputKind("peptide", _featurise_peptides, _peptide_fingerprints))
