"""The MHC class I few-shot protocol (../shared/GUIDE.md section 4, "MHC alleles").

Each held-out allele is a task.  For each support size k and draw, a random support of k
measurements (at least one binder and one non-binder) is what a method learns from; the rest of
the allele's measurements are the query.  Metrics on the query: ROC-AUC of binders at 500 nM
(censored measurements only where their bound decides) and Spearman's rho between predicted and
measured score on exact measurements.  The methods:

* ``molprior``: the meta-learned allele model adapted to the support by its inner loop;
* ``rf_onehot``, ``rf_blosum62``: per-allele random forests on the support;
* ``nearest_allele``: the model of the well-measured training allele that ranks the support best
  (no training on the support);
* ``pretrained_no_meta``: the peptide prior's embeddings with body and head trained on the
  support alone from random initialisation (pretraining without meta-learning);
* ``scratch``: the same network trained on the support alone from random initialisation,
  encoder included (an untrained graph encoder: no pretraining, no meta-learning).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from molprior.evaluation.mhc_baselines import PerAlleleForest
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.meta.scorer import Representation
from molprior.meta.allele_learner import score_loss
from molprior.meta.finetune import fine_tune
from molprior.models.allele_model import AlleleModelConfig, PeptideFeatures, allele_task_model
from molprior.models.heads import TaskModel
from molprior.data.tasks import FewShotTask


@dataclass
class QueryMetrics:
    roc_auc: float
    spearman: float


def query_metrics(task: FewShotTask, query: np.ndarray, predicted: np.ndarray) -> QueryMetrics:
    """ROC-AUC at 500 nM on labelled query rows; Spearman on exact ones (NaN when undefined)."""
    labels = task.labels[query]
    known = ~np.isnan(labels)
    auc = (float(roc_auc_score(labels[known], predicted[known]))
           if known.any() and 0 < labels[known].sum() < known.sum() else float("nan"))
    exact = task.relations[query] == 0
    rho = float(spearmanr(predicted[exact], task.values[query][exact]).statistic) if exact.sum() > 2 else float("nan")
    return QueryMetrics(auc, rho)


def train_from_scratch(features: torch.Tensor, scores: torch.Tensor, relations: torch.Tensor,
                       config: AlleleModelConfig = AlleleModelConfig(), epochs: int = 100, lr: float = 1e-3,
                       seed: int = 0) -> TaskModel:
    """Body and head from random initialisation, trained on one support set (full batch)."""
    torch.manual_seed(seed)
    model = allele_task_model(features.shape[1], config)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    batch = PeptideFeatures(features)
    model.train()
    fine_tune(optimizer, lambda rows: score_loss(relations)(model(batch), scores), len(scores), epochs)
    return model.eval()


def nearest_allele_scores(predictor: MHCPredictor, support_body: Representation, support_scores: np.ndarray,
                          query_body: Representation) -> tuple[str, np.ndarray]:
    """The trained allele whose model best ranks the support (Spearman), and its query scores."""
    best, best_rho = None, -np.inf
    for allele in predictor.supported:
        rho = spearmanr(predictor.scores_from_body(support_body, allele), support_scores).statistic
        if np.isfinite(rho) and rho > best_rho:
            best, best_rho = allele, rho
    best = best or predictor.supported[0]
    return best, predictor.scores_from_body(query_body, best)


def forest_scores(scheme: str, task: FewShotTask, support: np.ndarray, query: np.ndarray,
                  seed: int, n_jobs: int) -> np.ndarray:
    """A per-allele random forest fitted on the support (censored values at their bound)."""
    forest = PerAlleleForest(scheme, seed=seed, n_jobs=n_jobs)
    forest.fit([task.inputs[i] for i in support], task.values[support])
    return forest.predict([task.inputs[i] for i in query])
