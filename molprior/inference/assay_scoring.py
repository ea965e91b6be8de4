"""A few-shot model adapted to one assay, ready to score lists of molecules.

:class:`AssayScorer` is the whole inference path: standardise each SMILES as training did,
featurise it, run the one scorer (:mod:`molprior.meta.scorer`; one head, named by the assay)
and measure how close each molecule lies to the support set.  It needs no training code, no
files beyond the model directory and no MLflow, so the CLI, the pyfunc model and a Spark UDF
all score identically.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from molprior.chem.fingerprints import ecfp, tanimoto
from molprior.data.leakage import load_seen, load_seen_skeletons
from molprior.inference.library_chunks import SIMILARITY_BITS, ChunkSettings, PreparedChunk, prepare_chunk
from molprior.meta.batches import MoleculeBank
from molprior.meta.learner import Adapted, FewShotLearner
from molprior.meta.scorer import BankRows, Scorer
from molprior.parallel import Workers
from molprior.serialization import ModelFormatError, load_learner

SUPPORT_FILE = "support.csv"
#: The predictive standard deviation of a model's score where it has one (a GP head's, on the
#: ``±1`` label scale: near the kernel's output scale far from the support, smaller close to
#: it); NaN for models without one.
UNCERTAINTY = "uncertainty"
CHUNK = 1024  # distinct inputs per worker task: eight of the forward pass's fixed blocks
RECENT_LIMIT = 100_000  # input texts a run remembers the scores of


@dataclass
class AssayScorer:
    """The scorer of a model adapted to one assay, plus the fingerprints of its support."""

    scorer: Scorer
    support_fingerprints: np.ndarray | None
    description: dict
    seen: np.ndarray | None = None  # hashed keys of the meta-training molecules (molprior.data.leakage)
    seen_skeletons: np.ndarray | None = None  # their skeleton hashes (the prefilter), where recorded

    @classmethod
    def load(cls, directory: str | Path) -> "AssayScorer":
        """The adapted model in ``directory`` (checksums verified before loading)."""
        directory = Path(directory)
        learner, description = load_learner(directory)
        if not description.get("adapted"):
            raise ModelFormatError(f"{directory} holds a meta-trained model, not one adapted to an assay: run "
                                   "`molprior adapt --model MODEL --support FILE --output DIR` and score with DIR")
        adapted = Adapted({n: p.detach() for n, p in learner.model.named_parameters()},
                          description.get("target_mean", 0.0), description.get("target_std", 1.0),
                          description.pop("adapted_state", {}))
        support = directory / SUPPORT_FILE
        fingerprints = ecfp(pd.read_csv(support)["smiles"].tolist()) if support.exists() else None
        assay = str(description.get("metadata", {}).get("assay", ""))
        return cls(Scorer(learner, {assay: adapted}), fingerprints, description, load_seen(directory),
                   load_seen_skeletons(directory))

    @property
    def learner(self) -> FewShotLearner:
        return self.scorer.learner

    @property
    def regression(self) -> bool:
        return self.learner.config.task_type == "regression"

    @property
    def score_column(self) -> str:
        """``value`` for a regression model, ``probability_active`` for a classifier."""
        return "value" if self.regression else "probability_active"

    @property
    def output_columns(self) -> list[str]:
        """The columns :meth:`score` adds to the standardised SMILES, in order."""
        return [self.score_column, UNCERTAINTY, "support_similarity", "error"]

    @property
    def assay(self) -> str:
        """The assay the model was adapted to (the name of its one head)."""
        return next(iter(self.scorer.heads))

    def to(self, device: str | torch.device) -> "AssayScorer":
        """Run the model on ``device`` (e.g. ``cuda``): worker processes then only read and
        featurise the inputs, and this process runs every forward pass."""
        self.scorer.to(device)
        return self

    @property
    def workers_run_the_model(self) -> bool:
        """Whether worker processes run the model too (on the CPU) or only read the inputs."""
        return self.scorer.device.type == "cpu"

    def workers(self, jobs: int = 1) -> Workers:
        """The run's worker processes, each holding this scorer: every chunk of inputs is read
        and, with the model on the CPU, scored in one (:func:`_score_chunk`; only its output rows
        come back), else read there and scored here (:func:`_prepare_chunk`)."""
        return Workers(jobs, (self, self.chunk_settings()))

    def chunk_settings(self) -> ChunkSettings:
        """What a chunk of inputs is read with: the ECFP4 sizes the model and the support
        similarity read, and the record of the molecules the model has seen."""
        bits = (self.learner.model.head_config.fingerprint_dim,) if self.learner.model.head_config.fingerprint_dim else ()
        if self.support_fingerprints is not None:
            bits += (SIMILARITY_BITS,)
        return ChunkSettings(bits, self.seen, self.seen_skeletons)

    def score(self, smiles: Sequence[str], jobs: int = 1, workers: Workers | None = None,
              recent: "RecentScores | None" = None) -> pd.DataFrame:
        """Scores for ``smiles`` in order: ``smiles`` (standardised; empty when it failed),
        the score column, :data:`UNCERTAINTY`, ``support_similarity`` (highest Tanimoto
        similarity of the ECFP4 to a support molecule), ``error`` (why a row has no score,
        else empty) and ``seen`` (whether the model was meta-trained on the molecule; False
        when it does not record its molecules).  ``workers`` (from :meth:`workers`) are the
        run's processes; without, ``jobs`` of them are started for this call.  ``recent``
        remembers scores by input text across calls of one run, so a repeated input is not
        scored again."""
        texts = ["" if s is None or (isinstance(s, float) and np.isnan(s)) else str(s).strip() for s in smiles]
        if workers is None:
            with self.workers(jobs) as started:
                return self._score(texts, started, RecentScores() if recent is None else recent)
        return self._score(texts, workers, RecentScores() if recent is None else recent)

    def _score(self, texts: list[str], workers: Workers, recent: "RecentScores") -> pd.DataFrame:
        todo = [t for t in dict.fromkeys(texts) if t not in recent]
        chunks = [todo[i:i + CHUNK] for i in range(0, len(todo), CHUNK)]
        by_text = {}
        if self.workers_run_the_model:  # each worker reads and scores whole chunks
            for rows in workers.map(_score_chunk, chunks):
                by_text.update(rows)
        else:  # workers read, this process runs the model on its device
            for chunk, prepared in zip(chunks, workers.map(_prepare_chunk, chunks)):
                by_text.update(self._score_prepared(chunk, prepared))
        rows = [by_text[t] if t in by_text else recent[t] for t in texts]
        recent.update(by_text)
        columns = ["smiles", self.score_column, UNCERTAINTY, "support_similarity", "error", "seen"]
        frame = pd.DataFrame(rows, columns=columns) if rows else pd.DataFrame(columns=columns)
        frame["support_similarity"] = np.round(frame["support_similarity"].astype(float), 4)
        return frame.astype({"smiles": str, self.score_column: float, UNCERTAINTY: float, "error": str, "seen": bool})

    def _score_prepared(self, texts: list[str], prepared: PreparedChunk) -> dict[str, tuple]:
        """Output rows by input text for one prepared chunk: the forward pass and the similarity."""
        graphs = prepared.graphs
        bits = self.learner.model.head_config.fingerprint_dim
        bank = MoleculeBank(graphs, prepared.fingerprints(bits) if bits else None)
        n = len(graphs)
        values, spread, best = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        row_errors: dict[int, str] = {}
        if n:
            inputs = BankRows(bank, np.arange(n))
            values, spread = self.scorer.outputs(self.scorer.represent(inputs), self.assay, row_errors)
            if self.support_fingerprints is not None:
                best = tanimoto(prepared.fingerprints(SIMILARITY_BITS), self.support_fingerprints).max(axis=1)
        seen = prepared.seen if prepared.seen is not None else np.zeros(n, dtype=bool)
        scored = {s: (float(values[i]), float(spread[i]), float(best[i]), bool(seen[i]))
                  for i, s in enumerate(graphs.smiles) if i not in row_errors}
        failed = {graphs.smiles[i]: reason for i, reason in row_errors.items()}
        rows = {}
        for text, canonical, error in zip(texts, prepared.canonical, prepared.errors):
            if canonical in scored and not error:
                value, sd, similarity, was_seen = scored[canonical]
                rows[text] = (canonical, value, sd, similarity, "", was_seen)
            else:
                reason = error or failed.get(canonical, "not scored")
                rows[text] = (canonical or "", np.nan, np.nan, np.nan, reason, False)
        return rows


class RecentScores(OrderedDict):
    """Output rows by input text, the ``limit`` most recent (a run's memory of what it scored)."""

    def __init__(self, limit: int = RECENT_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def update(self, rows: dict) -> None:  # type: ignore[override]
        for text, row in rows.items():
            self[text] = row
            self.move_to_end(text)
        while len(self) > self.limit:
            self.popitem(last=False)


def _prepare_chunk(state: tuple[AssayScorer, ChunkSettings], texts: list[str]) -> PreparedChunk:
    """One chunk read and featurised with the run's settings (the model runs elsewhere)."""
    return prepare_chunk(texts, state[1])


def _score_chunk(state: tuple[AssayScorer, ChunkSettings], texts: list[str]) -> dict[str, tuple]:
    """Output rows by input text for one chunk, read and scored by the run's scorer."""
    scorer, settings = state
    return scorer._score_prepared(texts, prepare_chunk(texts, settings))
