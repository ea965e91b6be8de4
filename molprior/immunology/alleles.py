"""MHC allele names: parse with ``mhcgnomes``, normalise to two fields, resolve against a model.

``mhcgnomes`` (MHCflurry's nomenclature parser) reads the many spellings people use
(``HLA-A*02:01``, ``HLA-A0201``, ``A*02:01``, ``hla-a*02:01``, ``HLA-A*02:01:01``); here every
allele becomes its two-field name ``HLA-A*02:01``, the level at which binding is predicted.
"""

from __future__ import annotations

import difflib
import re
from typing import Collection

from molprior.errors import InputError

EXAMPLE = "HLA-A*02:01"
#: A two-field HLA name as :func:`normalize_allele` writes it.
TWO_FIELD = re.compile(r"HLA-[A-Z0-9]+\*\d{2,4}:\d{2,4}")
_KINDS = {"Serotype": "a serotype", "Gene": "a gene", "Pair": "an allele pair", "Haplotype": "a haplotype",
          "Supertype": "a supertype", "AlleleWithoutGene": "an allele without a gene", "Class2Locus": "a locus"}


class AlleleError(InputError):
    """A malformed or unsupported allele name; ``suggestions`` are the closest supported ones."""

    def __init__(self, message: str, name: str | None = None, suggestions: Collection[str] = ()) -> None:
        super().__init__(message)
        self.name = name
        self.suggestions = list(suggestions)


def _parse(name: str) -> object:
    import mhcgnomes  # imported on first use: it takes about 2 s
    try:
        return mhcgnomes.parse(name)
    except mhcgnomes.ParseError:
        return None


def normalize_allele(name: str) -> str:
    """The canonical two-field name of ``name`` (``HLA-A0201`` -> ``HLA-A*02:01``).

    Extra fields are dropped (``HLA-A*02:01:01`` -> ``HLA-A*02:01``).  Raises
    :class:`AlleleError` for names that are empty, unparseable, a serotype or gene rather than
    an allele, only an allele group (``HLA-A*02``) or a null (not expressed) allele.
    """
    import mhcgnomes  # imported on first use: it takes about 2 s
    text = str(name).strip()
    if not text:
        raise AlleleError("empty allele name", name)
    parsed = _parse(text)
    if parsed is None:
        raise AlleleError(f"cannot parse allele name {text!r}", name)
    if not isinstance(parsed, mhcgnomes.Allele):
        kind = _KINDS.get(type(parsed).__name__, f"a {type(parsed).__name__}")
        raise AlleleError(f"{text!r} names {kind} ({parsed.to_string()}), not an allele; "
                          f"give a two-field allele name such as {EXAMPLE}", name)
    if parsed.num_allele_fields < 2:
        if not parsed.is_allele_group and not _is_human(parsed):  # mouse H-2 alleles are one letter: Kb
            raise AlleleError(f"{text!r} is {_species(parsed)} allele ({parsed.to_string()}): {HUMAN_CLASS_I}", name)
        what = f"names only the allele group {parsed.to_string()}" if parsed.is_allele_group else \
            f"has only one allele field ({parsed.to_string()})"
        raise AlleleError(f"{text!r} {what}; give a two-field allele name such as {EXAMPLE}", name)
    if parsed.annotation_null:
        raise AlleleError(f"{text!r} is a null allele (not expressed)", name)
    first, second = parsed.allele_fields[:2]
    return f"{parsed.species_prefix}-{parsed.gene_name}*{first}:{second}"


HUMAN_CLASS_I = "only human HLA class I (HLA-A, -B, -C) is supported"


def _is_human(parsed: object) -> bool:
    species = getattr(parsed, "species", None)
    return species is None or getattr(species, "is_human", True)


def _species(parsed: object) -> str:
    """``a mouse``, ``a rhesus macaque``: the species of a parsed name with its article."""
    species = parsed.species
    common = species.common_name or species.name
    return f"{'an' if common[:1].lower() in 'aeiou' else 'a'} {common}"


def _class2(parsed: object) -> bool:
    mhc_class = getattr(parsed, "mhc_class", None)
    return isinstance(mhc_class, str) and mhc_class.startswith("II")


def _outside_the_model(name: str, supported: Collection[str]) -> str | None:
    """Why ``name`` (an allele or allele pair) cannot be any supported allele: its species, or
    MHC class II, when no supported allele shares it; else ``None``."""
    import mhcgnomes  # imported on first use: it takes about 2 s
    parsed = _parse(name.strip()) if name.strip() else None
    if not isinstance(parsed, (mhcgnomes.Allele, mhcgnomes.Pair)):
        return None
    known = [p for p in (_parse(a) for a in supported) if isinstance(p, mhcgnomes.Allele)]
    kind = "allele pair" if isinstance(parsed, mhcgnomes.Pair) else "allele"
    if not any(p.species == parsed.species for p in known):
        scope = HUMAN_CLASS_I if all(_is_human(p) and not _class2(p) for p in known) else \
            f"the model has no {parsed.species.common_name or parsed.species.name} alleles"
        return f"{name.strip()!r} is {_species(parsed)} {kind} ({parsed.to_string()}): {scope}"
    if _class2(parsed) and not any(_class2(p) for p in known):
        return f"{name.strip()!r} is an MHC class II {kind} ({parsed.to_string()}): only class I is supported"
    return None


def _gene_and_group(name: str) -> tuple[tuple[str, str] | None, str | None]:
    """``((species prefix, gene), first field)`` of whatever ``name`` parses to, else Nones."""
    import mhcgnomes  # imported on first use: it takes about 2 s
    parsed = _parse(name.strip()) if name.strip() else None
    if isinstance(parsed, mhcgnomes.Serotype) and parsed.alleles:
        parsed = parsed.alleles[0]
    if isinstance(parsed, mhcgnomes.Allele):
        return (parsed.species_prefix, parsed.gene_name), parsed.allele_fields[0]
    if isinstance(parsed, mhcgnomes.Gene):
        return (parsed.species_prefix, parsed.gene_name), None
    return None, None


def _canonical(supported: Collection[str]) -> dict[str, str]:
    """Canonical name -> the supported spelling, for the names that normalise."""
    names = {}
    for allele in supported:
        try:
            names.setdefault(normalize_allele(allele), allele)
        except AlleleError:
            continue
    return names


def closest_alleles(name: str, supported: Collection[str], n: int = 3) -> list[str]:
    """Up to ``n`` supported alleles near ``name``: same gene and allele group first, then
    same gene (most similar first), then by string similarity (:mod:`difflib`)."""
    gene, group = _gene_and_group(name)
    query = name.strip().upper()
    try:
        query = normalize_allele(name)
    except AlleleError:
        pass
    similarity = {a: difflib.SequenceMatcher(None, query, a.upper()).ratio() for a in supported}
    picks: list[str] = []
    if gene is not None:
        keyed = [(a, *_gene_and_group(a)) for a in supported]
        same_group = sorted(a for a, g, f in keyed if g == gene and group is not None and f == group)
        same_gene = sorted((a for a, g, _ in keyed if g == gene and a not in same_group),
                           key=lambda a: (-similarity[a], a))
        picks = same_group + same_gene
    close = difflib.get_close_matches(query, [a.upper() for a in supported], n=len(supported), cutoff=0.5)
    upper = {a.upper(): a for a in supported}
    picks += [upper[c] for c in close if upper[c] not in picks]
    return picks[:n]


def resolve_allele(name: str, supported: Collection[str]) -> str:
    """Normalise ``name`` and check it is ``supported``; returns the supported spelling
    (the canonical name when ``supported`` holds canonical names).

    Raises :class:`AlleleError` naming the input and up to three closest supported alleles;
    an allele of a species, or of MHC class II, that no supported allele shares is told so
    instead (``H-2-Kb is a mouse allele: only human HLA class I ...``).

    A name already in two-field form and supported is returned without parsing: it is its own
    normalisation (tested on every allele of the MHC data), and loading the parser takes seconds.
    """
    if name in supported and TWO_FIELD.fullmatch(name):
        return name
    try:
        canonical = normalize_allele(name)
    except AlleleError as error:
        reason = str(error)
    else:
        if canonical in supported:
            return canonical
        found = _canonical(supported).get(canonical)
        if found is not None:
            return found
        shown = str(name).strip()
        reason = f"unknown allele {shown!r}" + (f" (read as {canonical})" if canonical != shown else "")
    unsupported = _outside_the_model(str(name), supported)
    if unsupported:
        raise AlleleError(unsupported, name)
    suggestions = closest_alleles(str(name), supported)
    hint = f"closest supported: {', '.join(suggestions)}" if suggestions else "no similar supported allele"
    raise AlleleError(f"{reason}; {hint}", name, suggestions)


def parse_genotype(text: str, supported: Collection[str]) -> tuple[list[str], list[str]]:
    """Alleles separated by commas, semicolons or whitespace -> ``(alleles, errors)``:
    the resolved supported alleles in order without duplicates, and one message per bad name."""
    alleles: list[str] = []
    errors: list[str] = []
    for token in re.split(r"[,;\s]+", text or ""):
        if not token:
            continue
        try:
            allele = resolve_allele(token, supported)
        except AlleleError as error:
            if str(error) not in errors:
                errors.append(str(error))
            continue
        if allele not in alleles:
            alleles.append(allele)
    return alleles, errors
