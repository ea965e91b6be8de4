"""The MHC post-processor: from a predictor's scores to the table a user reads.

For each peptide and allele (a genotype fans out to one row per allele): the predicted IC50
(nM), the transformed score ``1 - log(ic50)/log(50000)``, the binder call (strong < 50 nM, weak
< 500 nM), the percentile rank among random natural-frequency peptides of the same length, and
the genotype's best allele for the peptide (lowest IC50).  Rows that cannot be scored keep their
input and say why in ``error``; what normalisation changed is in ``note``.  Used alike by
``molprior peptides score`` (files, streamed: :mod:`molprior.workflows.peptide_scoring`) and the
packaged model (:mod:`molprior.tracking.mhc_pyfunc`), which isolates the rows scoring fails on.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from molprior.immunology.alleles import AlleleError, resolve_allele
from molprior.data.mhc import binder_call, score_to_ic50
from molprior.data.peptide_input import peptide_rows
from molprior.errors import InputError
from molprior.inference.isolation import score_isolating_failures
from molprior.meta.mhc_predictor import MHCPredictor

log = logging.getLogger(__name__)

#: The output columns, in order.
COLUMNS = ["row", "input", "peptide", "allele", "ic50_nm", "score", "binder", "percentile_rank", "best_allele",
           "error", "note"]


class AlleleResolver:
    """Allele names resolved against a predictor once per distinct spelling."""

    def __init__(self, supported: list[str]):
        self.supported = supported
        self._known: dict[str, str | AlleleError] = {}

    def __call__(self, name: str) -> str | AlleleError:
        if name not in self._known:
            try:
                self._known[name] = resolve_allele(name, self.supported)
            except AlleleError as error:
                self._known[name] = error
        return self._known[name]


def _expand(chunk: pd.DataFrame, genotype: list[str] | None, resolver: AlleleResolver) -> pd.DataFrame:
    """One row per peptide and allele, with the allele resolved (or the reason it could not be)."""
    if genotype is not None:
        frame = chunk.loc[chunk.index.repeat(len(genotype))].reset_index(drop=True)
        frame["allele"] = genotype * len(chunk)
    else:
        frame = chunk.reset_index(drop=True).copy()
        frame["allele"] = frame["allele_input"].fillna("")
    resolved = [resolver(a) for a in frame["allele"]]
    allele_error = [str(r) if isinstance(r, AlleleError) else None for r in resolved]
    frame["allele"] = [a if e else r for a, r, e in zip(frame["allele"], resolved, allele_error)]
    frame["error"] = [p or a for p, a in zip(frame["error"], allele_error)]
    return frame


def score_chunk(predictor: MHCPredictor, chunk: pd.DataFrame, genotype: list[str] | None,
                resolver: AlleleResolver, batch_size: int | None = None) -> pd.DataFrame:
    """Scores of one chunk of :func:`~molprior.data.peptide_input.iter_peptide_rows` output."""
    frame = _expand(chunk, genotype, resolver)
    for column in ("ic50_nm", "score", "percentile_rank"):
        frame[column] = np.nan
    ok = frame["error"].isna().to_numpy()
    if ok.any():
        peptides = frame.loc[ok, "peptide"].to_numpy(dtype=object)
        unique, inverse = np.unique(peptides.astype(str), return_inverse=True)
        body = predictor.body(list(unique), batch_size)  # each peptide embedded once, for every allele
        lengths = np.array([len(p) for p in unique])
        alleles = frame.loc[ok, "allele"].to_numpy(dtype=object)
        scores, ranks = np.empty(len(peptides)), np.empty(len(peptides))
        for allele in np.unique(alleles.astype(str)):
            rows = alleles == allele
            wanted = np.unique(inverse[rows])
            allele_scores = np.full(len(unique), np.nan)
            part = body if len(wanted) == len(unique) else body[wanted]  # a genotype wants them all: no copy
            allele_scores[wanted] = predictor.scores_from_body(part, allele)
            allele_ranks = np.full(len(unique), np.nan)
            allele_ranks[wanted] = predictor.percentile(allele, lengths[wanted], allele_scores[wanted])
            scores[rows] = allele_scores[inverse[rows]]
            ranks[rows] = allele_ranks[inverse[rows]]
        frame.loc[ok, "score"] = scores
        frame.loc[ok, "ic50_nm"] = score_to_ic50(scores)
        frame.loc[ok, "percentile_rank"] = ranks
    frame["binder"] = binder_call(frame["ic50_nm"].to_numpy())
    # precision the model has (and output that does not depend on how the input was chunked)
    frame = frame.round({"ic50_nm": 2, "score": 5, "percentile_rank": 3})
    scored = frame[ok]
    best = scored.loc[scored.groupby("row")["ic50_nm"].idxmin(), ["row", "allele"]] if len(scored) else None
    frame["best_allele"] = frame["row"].map(dict(zip(best["row"], best["allele"]))) if best is not None else None
    return frame[COLUMNS]


def score_table(predictor: MHCPredictor, frame: pd.DataFrame) -> pd.DataFrame:
    """Score an in-memory table with ``peptide`` and ``allele`` columns (the packaged model's
    input): one output row per input row, in order, whatever the rows hold.  An invalid peptide
    or an unknown allele is that row's ``error``; should scoring fail for the whole table
    instead, the checked rows (their normalisation and notes those of the whole table) are
    scored again in halves, down to single rows, so only the rows it fails on get an error
    (``cannot score: ...``)."""
    missing = {"peptide", "allele"} - set(frame.columns)
    if missing:
        raise InputError(f"the input needs 'peptide' and 'allele' columns; missing {sorted(missing)}")
    rows = peptide_rows(frame["peptide"].tolist(), frame["allele"].tolist(), predictor.lengths)
    resolver = AlleleResolver(predictor.supported)
    return score_isolating_failures(lambda part: score_chunk(predictor, part, None, resolver), rows,
                                    _failed_row)


def _failed_row(single: pd.DataFrame, reason: str) -> pd.DataFrame:
    row = single.iloc[0]
    log.warning("cannot score row %s: %s", row["row"], reason)
    return pd.DataFrame([{**dict.fromkeys(COLUMNS), "row": row["row"], "input": row["input"], "peptide": row["peptide"],
                          "allele": _text(row["allele_input"]), "ic50_nm": float("nan"), "score": float("nan"),
                          "binder": "", "percentile_rank": float("nan"),
                          "error": row["error"] or f"cannot score: {reason}", "note": row["note"]}], columns=COLUMNS)


def _text(value: object) -> str:
    """A cell as text; missing values (None, NaN, NA) are empty."""
    return "" if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) else str(value)
