"""Which assays a command takes: names, or positions and ranges over the input's assays.

Commands accept assay lists as ``--test-assays A,B,...``.  A name that holds a comma is
quoted as in a CSV row (``'"Pregnancy, puerperium and perinatal conditions",Neoplasms'``);
``@FILE`` reads one name per line; an item ``START:STOP`` is a Python slice over the input's
assays in file order (the columns of a wide file), so ``-6:`` is the last six, as in
MoleculeNet's few-shot split; a named group of the input (``split:test`` for FS-Mol's test
tasks, see :attr:`molprior.data.prepare.PreparedTable.assay_groups`) stands for its assays.
Ranges and groups are resolved here, once the input has been read.
"""

from __future__ import annotations

import difflib
import re
from typing import Mapping, Sequence

from molprior.errors import InputError

_RANGE = re.compile(r"^\s*(-?\d*)\s*:\s*(-?\d*)\s*$")


def is_range(item: str) -> bool:
    """Whether ``item`` is a ``START:STOP`` range (either end may be empty)."""
    return bool(_RANGE.match(item))


def resolve_assays(items: Sequence[str], available: Sequence[str], role: str = "assays",
                   unknown_ok: bool = False, groups: Mapping[str, Sequence[str]] | None = None) -> list[str]:
    """The assay names that ``items`` select from ``available`` (in file order), in the order
    given, each once; an item naming one of ``groups`` selects the group's assays.  Raises
    ``ValueError`` naming an unknown assay (with the closest names; with ``unknown_ok`` such a
    name is kept as given) or a range that selects nothing."""
    available = list(available)
    known = set(available)
    groups = groups or {}
    chosen: list[str] = []
    for item in items:
        match = _RANGE.match(item)
        if item in groups and item not in known:
            chosen += list(groups[item])
        elif match:
            start, stop = (int(x) if x not in ("", "-") else None for x in match.groups())
            picked = available[slice(start, stop)]
            if not picked:
                raise InputError(f"{role}: range {item!r} selects none of the input's {len(available)} assays")
            chosen += picked
        elif item in known or unknown_ok:
            chosen.append(item)
        else:
            close = difflib.get_close_matches(item, available, n=3, cutoff=0.6)
            hint = f"; closest: {', '.join(map(repr, close))}" if close else ""
            raise InputError(f"{role}: no assay {item!r} in the input{hint} (a name holding a comma must be "
                             "quoted, e.g. '\"A, B\",C', or listed in a file given as @FILE)")
    return list(dict.fromkeys(chosen))
