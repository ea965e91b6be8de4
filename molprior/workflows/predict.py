"""``molprior predict``: score a file of molecules with an adapted model.

The output keeps every input row, in order, with the input's columns, and adds the
prediction (``probability_active`` for a classification model, ``value`` for a regression
model), ``support_similarity`` (the highest Tanimoto similarity of the molecule's ECFP4 to a
support molecule: an applicability-domain guide, low values mean extrapolation) and
``error`` (why a row could not be scored; empty otherwise).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.chem.fingerprints import ecfp, tanimoto
from molprior.data.curation import standardize_items
from molprior.data.readers import SMILES_ALIASES, InputError, find_column, read_text_table
from molprior.files import write_csv
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import Adapted
from molprior.workflows.adapt import SUPPORT_FILE, load_fewshot_model

log = logging.getLogger(__name__)
CHUNK = 4096
SMILES_SUFFIXES = {".smi", ".smiles", ".txt"}


@dataclass
class PredictOutcome:
    output: Path
    rows: int
    scored: int
    errors: int


def read_molecules(path: str | Path, smiles_column: str | None = None) -> tuple[pd.DataFrame, str]:
    """Every input row (index: line in the file) and the SMILES column's name; malformed CSV
    lines are kept as rows whose ``error`` says why."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"no such file: {path}")
    if path.suffix.lower() in SMILES_SUFFIXES:
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        rows = [(n + 1, line.split()) for n, line in enumerate(lines) if line.strip()]
        if rows and rows[0][1][0].lower() in SMILES_ALIASES:
            rows = rows[1:]
        frame = pd.DataFrame({"smiles": [r[0] for _, r in rows], "name": [" ".join(r[1:]) for _, r in rows]},
                             index=pd.Index([n for n, _ in rows], name="line"))
        frame["error"] = ""
        return frame, "smiles"
    frame, problems = read_text_table(path)
    column = find_column(frame, smiles_column, "smiles", path, SMILES_ALIASES)
    frame["error"] = ""
    bad = [(line, reason) for line, _, _, reason in problems if reason != "empty line"]
    if bad:
        extra = pd.DataFrame({"error": [reason for _, reason in bad]}, index=pd.Index([l for l, _ in bad], name="line"))
        frame = pd.concat([frame, extra]).sort_index(kind="stable")
    return frame, column


def run_predict(model: str | Path, input_path: str | Path, output: str | Path, smiles_column: str | None = None,
                jobs: int = 1) -> PredictOutcome:
    """Score ``input_path`` with an adapted model and write ``output`` atomically."""
    learner, description, directory = load_fewshot_model(model)
    if not description.get("adapted"):
        raise InputError(f"{model} is a meta-trained model, not adapted to an assay: run `molprior adapt --model "
                         f"{model} --support FILE --output DIR` first and predict with DIR")
    adapted = Adapted({n: p.detach() for n, p in learner.model.named_parameters()},
                      description.get("target_mean", 0.0), description.get("target_std", 1.0))
    frame, column = read_molecules(input_path, smiles_column)
    todo = frame["error"] == ""
    texts = frame.loc[todo, column].fillna("").astype(str).str.strip()
    outcomes = standardize_items([("smiles", t) for t in texts], n_jobs=jobs)
    standardized = pd.Series([o.smiles for o in outcomes], index=texts.index, dtype=object)
    frame.loc[texts.index[[o.smiles is None for o in outcomes]], "error"] = [
        o.reason for o in outcomes if o.smiles is None]
    regression = learner.config.task_type == "regression"
    score_name = "value" if regression else "probability_active"
    scores = pd.Series(np.nan, index=frame.index)
    similarity = pd.Series(np.nan, index=frame.index)
    support_file = Path(directory) / SUPPORT_FILE
    support_fp = ecfp(pd.read_csv(support_file)["smiles"].tolist()) if support_file.exists() else None
    good = standardized.dropna()
    unique = list(dict.fromkeys(good))
    for start in range(0, len(unique), CHUNK):
        chunk = unique[start:start + CHUNK]
        bank, errors = MoleculeBank.build(chunk, fingerprint_bits=learner.model.head_config.fingerprint_dim, n_jobs=jobs)
        ok = [s for s in chunk if s in bank]
        if ok:
            with torch.no_grad():
                out = learner.predict(adapted, bank.batch(bank.indices(ok)))
            values = out.numpy() if regression else torch.sigmoid(out).numpy()
            by_smiles = dict(zip(ok, values))
            rows = good[good.isin(by_smiles)]
            scores.loc[rows.index] = rows.map(by_smiles).to_numpy(dtype=float)
            if support_fp is not None:
                fingerprints = bank.fingerprints[bank.indices(ok)] if bank.fingerprints is not None else ecfp(ok)
                best = tanimoto(fingerprints, support_fp).max(axis=1)
                similarity.loc[rows.index] = rows.map(dict(zip(ok, best))).to_numpy(dtype=float)
        for smiles, reason in errors.items():
            frame.loc[good.index[good == smiles], "error"] = f"cannot featurise: {reason}"
    result = frame.drop(columns="error")
    result[score_name] = scores.to_numpy()
    result["support_similarity"] = similarity.round(4).to_numpy()
    result["error"] = frame["error"].to_numpy()
    path = write_csv(result.reset_index(drop=True), output)
    n_errors = int((result["error"] != "").sum())
    for line, reason in frame.loc[frame["error"] != "", "error"].items():
        log.warning("line %s: %s", line, reason)
    log.info("scored %d of %d rows (%d with an error) -> %s", len(result) - n_errors, len(result), n_errors, path)
    return PredictOutcome(path, len(result), len(result) - n_errors, n_errors)
