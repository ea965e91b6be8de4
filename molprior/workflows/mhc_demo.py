"""The immunology part of ``molprior demo``: a new allele from 64 measurements, then a genotype.

HLA-B*57:01 is not among the shipped MHC model's alleles (``data/mhc/hla_b5701.csv.gz`` holds
its measurements).  The demo adapts the shipped model to 64 of them (registered as a version of
``molprior-mhc-i``), scores every other measured peptide against a six-allele genotype that
includes it, and checks the new allele's predictions against the measurements, next to a
BLOSUM62 random forest fitted on the same 64.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from molprior.data.mhc import binder_labels, ic50_to_score
from molprior.metrics.classification import roc_auc
from molprior.evaluation.mhc_baselines import PerAlleleForest
from molprior.files import write_csv, write_text
from molprior.serialization import load_predictor
from molprior.workflows.mhc_adapt import run_adapt_allele
from molprior.workflows.peptide_scoring import score_peptide_file

NEW_ALLELE = "HLA-B*57:01"
NEW_ALLELE_DATA = "data/mhc/hla_b5701.csv.gz"
GENOTYPE = ["HLA-A*01:01", "HLA-A*02:01", "HLA-B*08:01", "HLA-B*57:01", "HLA-C*06:02", "HLA-C*03:03"]


@dataclass
class PeptideDemoOutcome:
    scores: Path
    model_dir: Path
    registered: str | None
    support: int
    query_peptides: int
    peptides_per_s: float
    roc_auc: float
    rf_roc_auc: float
    binders: dict[str, int]


def run_peptide_demo(output_dir: str | Path, support_size: int = 64, seed: int = 0,
                     register_as: str | None = "molprior-mhc-i") -> PeptideDemoOutcome:
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(NEW_ALLELE_DATA)
    rng = np.random.default_rng(seed)
    peptides = table["peptide"].unique()
    support_peptides = set(rng.choice(peptides, size=support_size, replace=False))
    in_support = table["peptide"].isin(support_peptides)
    support = table[in_support].drop_duplicates("peptide")
    write_csv(support[["peptide", "ic50", "measurement_inequality"]], out / "hla_b5701_support.csv")
    adapted, version = run_adapt_allele(NEW_ALLELE, out / "hla_b5701_support.csv", out / "mhc-b5701",
                                        register_as=register_as)

    query = table[~in_support]
    query_peptides = sorted(set(query["peptide"]))
    write_text("\n".join(query_peptides) + "\n", out / "hla_b5701_query.txt")
    predictor = load_predictor(adapted.model_dir)
    scored = score_peptide_file(predictor, out / "hla_b5701_query.txt", out / "peptide_scores.csv", GENOTYPE)
    scores = pd.read_csv(out / "peptide_scores.csv")

    new = scores[(scores["allele"] == NEW_ALLELE) & scores["score"].notna()].set_index("peptide")["score"]
    labels = binder_labels(query["ic50"].to_numpy(), query["measurement_inequality"].to_numpy())
    predicted = new.reindex(query["peptide"]).to_numpy()
    known = ~np.isnan(labels) & ~np.isnan(predicted)  # peptides outside 8-15 residues are not scored
    forest = PerAlleleForest("blosum62", seed=seed).fit(support["peptide"].tolist(),
                                                         ic50_to_score(support["ic50"].to_numpy()))
    forest_scores = np.full(len(query), np.nan)
    forest_scores[known] = forest.predict(query["peptide"][known].tolist())
    binders = scores[scores["binder"].isin(["strong", "weak"])].groupby("allele").size().to_dict()
    return PeptideDemoOutcome(out / "peptide_scores.csv", adapted.model_dir,
                              f"{version.name} version {version.version}" if version is not None else None,
                              len(support), len(query_peptides), scored.peptides / scored.seconds,
                              roc_auc(labels[known], predicted[known]), roc_auc(labels[known], forest_scores[known]),
                              {a: int(binders.get(a, 0)) for a in GENOTYPE})


def print_peptide_demo(outcome: PeptideDemoOutcome) -> None:
    print(f"\nimmunology: adapted the MHC model to {NEW_ALLELE} (not among its alleles) from {outcome.support} "
          f"measurements -> {outcome.model_dir}" + (f"; registered as {outcome.registered}" if outcome.registered else ""))
    print(f"scored {outcome.query_peptides} other measured peptides against {', '.join(GENOTYPE)} "
          f"({outcome.peptides_per_s:.0f} peptides/s) -> {outcome.scores}")
    print(f"{NEW_ALLELE} against its measurements (binder < 500 nM): ROC-AUC {outcome.roc_auc:.3f}; "
          f"a BLOSUM62 random forest on the same {outcome.support}: {outcome.rf_roc_auc:.3f}")
    print("predicted binders per allele: " + ", ".join(f"{a} {n}" for a, n in outcome.binders.items()))
