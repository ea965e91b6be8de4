"""The MHC class I benchmark: few-shot held-out alleles, cross-validation, scoring throughput.

One tracked run (``molprior benchmark mhc``) that:

1. meta-trains the allele model on every allele except the held-out ones (checkpoint chosen on
   the meta-validation alleles), from the peptide prior;
2. runs the few-shot protocol of :mod:`molprior.evaluation.mhc` on the held-out alleles for every
   method, support size and draw;
3. cross-validates (5 folds) on held-out alleles with at least 1,000 measurements: the method's
   head and body adapter fine-tuned on four folds (as the shipped model's well-measured alleles
   are) against a random forest on the same folds;
4. measures scoring throughput against a six-allele genotype next to one allele and next to the
   random-forest baseline, in the same process.
"""

from __future__ import annotations

import json
import logging
import time
import zlib
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.config import MHCTrainConfig, write_settings
from molprior.data.catalog import local_or_embedded
from molprior.data.episodes import random_episode
from molprior.data.mhc import allele_tasks, load_measurements
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError
from molprior.evaluation import mhc as protocol
from molprior.files import write_csv, write_text
from molprior.meta.allele_learner import AFFINITY, allele_model_config
from molprior.meta.batches import FeatureBank
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.meta.scorer import FeatureRows, Representation
from molprior.models.allele_model import PeptideFeatures
from molprior.models.encoder import GraphEncoder
from molprior.models.peptide_encoder import PeptideEncoder
from molprior.tracking import runs
from molprior.typed_configs import nested_configs
from molprior.workflows.mhc_train import (allele_parameters, embed_peptides, fine_tune, load_peptide_encoder,
                                          meta_train, split_alleles)

log = logging.getLogger(__name__)

METHODS = ("molprior", "rf_onehot", "rf_blosum62", "nearest_allele", "pretrained_no_meta", "scratch")
SPEED_PASSES = 2  # alternating timed passes per configuration (the faster one counts)
COLD_PEPTIDES = 20000  # a fresh process's first peptides: its cold start, against the rest of its run
RF_SPEED_PEPTIDES = 20000  # the forests' rate is timed on the first of the peptides


@dataclass
class MHCBenchmarkConfig:
    """The ``mhc_benchmark`` preset: held-out alleles, protocol, and the model's training."""

    data: str = "data/mhc/mhc_class1_human.csv.gz"
    held_out: list[str] = field(default_factory=list)
    support_sizes: list[int] = field(default_factory=lambda: [16, 32, 64, 128])
    draws: int = 10
    binder_nm: float = 500.0
    cv_folds: int = 5
    cv_min_measurements: int = 1000
    methods: list[str] = field(default_factory=lambda: list(METHODS))
    speed_peptides: int = 100000
    speed_alleles: int = 6
    seed: int = 0
    train: MHCTrainConfig = field(default_factory=MHCTrainConfig)  # its data and held_out are the benchmark's

    def __post_init__(self) -> None:
        nested_configs(self)
        self.train = replace(self.train, data=self.data, held_out=list(self.held_out))


def _mean(values) -> float:
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")


def few_shot(config: MHCBenchmarkConfig, features: torch.Tensor, random_features: torch.Tensor,
             predictor: MHCPredictor, tasks: list[FewShotTask], jobs: int) -> pd.DataFrame:
    """One row per (allele, support size, draw, method): ROC-AUC and Spearman on the query.
    ``predictor`` holds the meta-learned learner and the training alleles' own models (for
    the nearest-allele baseline)."""
    rows = []
    learner = predictor.learner
    with torch.no_grad():
        body = Representation(FeatureRows(features), learner.model.represent(PeptideFeatures(features)))
    for task in tasks:
        rng = np.random.default_rng([config.seed, zlib.crc32(task.assay.encode())])  # the same draws every run
        log.info("few-shot: %s (%d measurements)", task.assay, len(task))
        for k in config.support_sizes:
            if k + 20 > len(task):
                log.info("%s: %d measurements, too few for support %d", task.assay, len(task), k)
                continue
            for draw in range(config.draws):
                episode = random_episode(task.labels, k, rng)
                support, query = episode.support, episode.query
                s_rows, q_rows = torch.from_numpy(task.rows[support]), torch.from_numpy(task.rows[query])
                s_scores = torch.from_numpy(task.values[support])
                s_rel = torch.from_numpy(task.relations[support])
                for method in config.methods:
                    start = time.perf_counter()
                    extra = {}
                    if method == "molprior":
                        adapted = learner.adapt(PeptideFeatures(features[s_rows]), s_scores, s_rel)
                        query_features = PeptideFeatures(features[q_rows])
                        predicted = AFFINITY.output(learner.predict(adapted, query_features)).numpy()
                    elif method.startswith("rf_"):
                        predicted = protocol.forest_scores(method[3:], task, support, query,
                                                           config.seed + draw, jobs)
                    elif method == "nearest_allele":
                        extra["nearest"], predicted = protocol.nearest_allele_scores(
                            predictor, body[s_rows], task.values[support], body[q_rows])
                    elif method in ("pretrained_no_meta", "scratch"):
                        table = features if method == "pretrained_no_meta" else random_features
                        model = protocol.train_from_scratch(table[s_rows], s_scores, s_rel,
                                                            allele_model_config(learner), seed=config.seed + draw)
                        with torch.no_grad():
                            predicted = AFFINITY.output(model(PeptideFeatures(table[q_rows]))).numpy()
                    else:
                        raise InputError(f"unknown method {method!r}; choose from {METHODS}")
                    metrics = protocol.query_metrics(task, query, predicted)
                    rows.append({"allele": task.assay, "support_size": k, "draw": draw, "method": method,
                                 "roc_auc": metrics.roc_auc, "spearman": metrics.spearman,
                                 "seconds": time.perf_counter() - start, **extra})
    return pd.DataFrame(rows)


def cross_validation(config: MHCBenchmarkConfig, features: torch.Tensor, learner, tasks: list[FewShotTask],
                     jobs: int, train_config: MHCTrainConfig) -> pd.DataFrame:
    """K-fold ROC-AUC on held-out alleles with many measurements: the meta-learned head and a
    body adapter fine-tuned on the training folds (as ``molprior peptides train`` does for
    well-measured alleles), and a BLOSUM62 random forest on the same folds."""
    rows = []
    for task in tasks:
        if len(task) < config.cv_min_measurements:
            continue
        log.info("cross-validation: %s (%d measurements)", task.assay, len(task))
        order = np.random.default_rng(config.seed).permutation(len(task))
        for fold, test in enumerate(np.array_split(order, config.cv_folds)):
            train = np.setdiff1d(order, test)
            tuned = fine_tune(learner, features[torch.from_numpy(task.rows[train])], torch.from_numpy(task.values[train]),
                              torch.from_numpy(task.relations[train]), train_config, seed=config.seed + fold)
            predicted = tuned.predict(learner, features[torch.from_numpy(task.rows[test])]).numpy()
            ours = protocol.query_metrics(task, test, predicted)
            forest = protocol.query_metrics(task, test, protocol.forest_scores("blosum62", task, train, test,
                                                                               config.seed + fold, jobs))
            rows += [{"allele": task.assay, "measurements": len(task), "fold": fold, "method": "molprior",
                      "roc_auc": ours.roc_auc, "spearman": ours.spearman},
                     {"allele": task.assay, "measurements": len(task), "fold": fold, "method": "rf_blosum62",
                      "roc_auc": forest.roc_auc, "spearman": forest.spearman}]
    return pd.DataFrame(rows)


def cold_and_steady(progress: list[tuple[int, float]], cold: int = COLD_PEPTIDES) -> dict[str, float]:
    """From a run's ``(peptides written, seconds)`` per chunk: the rate over its first ``cold``
    peptides and over the rest, and their ratio (none when the run is too short to have both)."""
    first = next(((n, t) for n, t in progress if n >= cold), None)
    if first is None or first == progress[-1]:
        return {}
    rates = {"peptides_per_s_cold": first[0] / first[1],
             "peptides_per_s_steady": (progress[-1][0] - first[0]) / (progress[-1][1] - first[1])}
    return {**rates, "ratio_cold_vs_steady": rates["peptides_per_s_cold"] / rates["peptides_per_s_steady"]}


def throughput(predictor: MHCPredictor, peptides: list[str], genotype: list[str], out: Path,
               baselines: bool = True, jobs: int = 1) -> dict[str, float]:
    """Peptides/s of ``molprior peptides score``'s code path on a real peptide list against the
    genotype, in ``jobs`` worker processes; with ``baselines``, also against its first allele
    alone and the BLOSUM62 forests' scoring for the same genotype (fitted on 128 measurements
    each, timed on the first :data:`RF_SPEED_PEPTIDES`), all in this process (the faster of
    :data:`SPEED_PASSES` alternating passes per configuration).  The first pass is this
    process's first scoring: its first :data:`COLD_PEPTIDES` peptides against the rest of the
    pass are the cold start (:func:`cold_and_steady`)."""
    from molprior.evaluation.mhc_baselines import PerAlleleForest
    from molprior.workflows.peptide_scoring import score_peptide_file

    path = out / "speed_peptides.txt"
    write_text("\n".join(peptides) + "\n", path)
    result = {"speed_peptides": len(peptides), "speed_alleles": len(genotype), "speed_jobs": jobs}
    configurations = (("genotype", genotype), ("one_allele", genotype[:1])) if baselines else (("genotype", genotype),)
    for repeat in range(SPEED_PASSES if baselines else 1):
        for label, alleles in configurations:
            outcome = score_peptide_file(predictor, path, out / f"speed_{label}.csv", alleles, jobs=jobs)
            key = f"peptides_per_s_{label}"
            result[key] = max(result.get(key, 0.0), outcome.peptides / outcome.seconds)
            if repeat == 0 and label == "genotype":
                result.update(cold_and_steady(outcome.progress))
    if not baselines:
        (out / "speed_genotype.csv").unlink(missing_ok=True)
        path.unlink(missing_ok=True)
        return result
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    train = [peptides[i] for i in rng.choice(len(peptides), 128, replace=False)]
    timed = peptides[:RF_SPEED_PEPTIDES]
    for _ in genotype:
        forest = PerAlleleForest("blosum62", n_jobs=-1).fit(train, rng.random(128))
        forest.predict(timed)
    result["peptides_per_s_rf_blosum62_genotype"] = len(timed) / (time.perf_counter() - start)
    result["ratio_genotype_vs_rf"] = result["peptides_per_s_genotype"] / result["peptides_per_s_rf_blosum62_genotype"]
    result["ratio_genotype_vs_one_allele"] = result["peptides_per_s_genotype"] / result["peptides_per_s_one_allele"]
    for name in ("speed_genotype.csv", "speed_one_allele.csv", "speed_peptides.txt"):
        (out / name).unlink(missing_ok=True)
    return result


def run_speed(config: MHCBenchmarkConfig, output_dir: str | Path, model: str | None = None,
              peptides: int | None = None, jobs: int = 1) -> dict[str, float]:
    """Only the throughput part, on a trained predictor (default: the shipped one), in a tracked
    run: ``peptides`` real peptides of the data (repeated in order when more are asked for than
    the data has, e.g. a million for the streaming check), the predictor's first
    ``speed_alleles`` alleles as the genotype, in ``jobs`` worker processes; also the peak RSS
    of this process and of the largest worker."""
    import resource

    from molprior.serialization import load_predictor
    from molprior.tracking.artifacts import resolve_model_dir

    config = replace(config, data=str(local_or_embedded(config.data)))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    predictor = load_predictor(resolve_model_dir(model, "mhc"))
    table = pd.read_csv(config.data)
    real = [p for p in dict.fromkeys(table["peptide"]) if 8 <= len(p) <= 15 and p.isalpha() and p.isupper()]
    if not real:
        raise InputError(f"{config.data} has no peptides of 8-15 standard residues to time")
    wanted = peptides or config.speed_peptides
    chosen = [real[i % len(real)] for i in range(wanted)]
    genotype = predictor.supported[: config.speed_alleles]
    with runs.tracked_run("benchmark-mhc-speed", params={"model": str(model or "shipped"), "peptides": wanted,
                                                         "genotype": ",".join(genotype)}):
        result = throughput(predictor, chosen, genotype, out, baselines=wanted <= config.speed_peptides, jobs=jobs)
        result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
        result["peak_rss_worker_gb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1e6
        runs.log_metrics(result)
    write_text(json.dumps(result, indent=2) + "\n", out / "mhc_speed.json")
    return result


def summarise(few: pd.DataFrame, cv: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    """Mean over draws, then over alleles (each allele weighs the same); headline metrics."""
    per_allele = few.groupby(["method", "support_size", "allele"])[["roc_auc", "spearman"]].mean()
    table = per_allele.groupby(level=["method", "support_size"]).mean().reset_index()
    metrics = {f"{r.method}.{m}.k{r.support_size}": getattr(r, m) for r in table.itertuples()
               for m in ("roc_auc", "spearman")}
    if len(cv):
        cv_allele = cv.groupby(["method", "allele"])["roc_auc"].mean()
        for method, value in cv_allele.groupby(level="method").mean().items():
            metrics[f"cv.{method}.roc_auc"] = float(value)
    return table, metrics


def run_mhc_benchmark(config: MHCBenchmarkConfig, output_dir: str | Path, jobs: int = 2,
                      progress: bool = True) -> tuple[pd.DataFrame, dict[str, float]]:
    """Run the benchmark in one tracked MLflow run; write its tables into ``output_dir``."""
    config = replace(config, data=str(local_or_embedded(config.data)))
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_config = config.train
    with runs.tracked_run("benchmark-mhc", params={**{k: json.dumps(v) if isinstance(v, (list, dict)) else v
                                                      for k, v in asdict(config).items()}}) as run:
        runs.log_files([write_settings(config, out, "molprior benchmark mhc --config {settings} -o {dir}")])
        runs.log_input_file(config.data, "mhc_data")
        measurements = load_measurements(config.data, tuple(train_config.lengths))
        table = measurements.table
        missing = sorted(set(config.held_out) - set(table["allele"]))
        if missing:
            raise InputError(f"held-out alleles not in {config.data}: {missing}")
        peptides = sorted(set(table["peptide"]))
        rows = {p: i for i, p in enumerate(peptides)}
        encoder, origin = load_peptide_encoder(train_config.prior, train_config.lengths)
        features = embed_peptides(encoder, peptides, origin["sha256"])
        torch.manual_seed(config.seed)
        untrained = PeptideEncoder(GraphEncoder(encoder.encoder.config), lengths=encoder.lengths).eval()
        random_features = (untrained.embed(peptides) if "scratch" in config.methods else features)

        kept = table[~table["allele"].isin(config.held_out)]
        from molprior.data.mhc import MHCMeasurements

        train_alleles, val_alleles = split_alleles(MHCMeasurements(kept, measurements.rejected), train_config)
        train = allele_tasks(kept, rows, train_alleles)
        val = allele_tasks(kept, rows, val_alleles)
        held = allele_tasks(table, rows, list(config.held_out))
        start = time.perf_counter()
        learner, train_metrics, history = meta_train(FeatureBank(features, peptides), train, val, train_config,
                                                     out / "metatrain", runs.lightning_logger(run.info.run_id),
                                                     progress)
        train_seconds = time.perf_counter() - start
        start = time.perf_counter()
        own = allele_parameters(learner, features, [t for t in train if len(t) >= train_config.finetune_min],
                                train_config)
        finetune_seconds = time.perf_counter() - start
        predictor = MHCPredictor.build(encoder, learner, own.heads, own.info, adapters=own.bodies)
        log.info("few-shot protocol on %d held-out alleles", len(held))
        few = few_shot(config, features, random_features, predictor, held, jobs)
        cv = cross_validation(config, features, learner, held, jobs, train_config)
        summary, metrics = summarise(few, cv)

        reference = predictor.reference_body(1000, config.seed)
        genotype = predictor.supported[: config.speed_alleles]
        for allele in genotype:
            predictor.set_reference(allele, reference)
        speed_peptides = [p for p in peptides if 8 <= len(p) <= 15][: config.speed_peptides]
        speed = throughput(predictor, speed_peptides, genotype, out, jobs=jobs)
        metrics.update(speed)
        metrics.update({f"metatrain.{k}": v for k, v in train_metrics.items()})
        metrics["metatrain.seconds"] = train_seconds
        metrics["finetune.seconds"] = finetune_seconds
        write_csv(few, out / "mhc_few_shot_draws.csv")
        write_csv(summary, out / "mhc_few_shot.csv")
        write_csv(cv, out / "mhc_cross_validation.csv")
        write_text(json.dumps(metrics, indent=2) + "\n", out / "mhc_benchmark.json")
        runs.log_metrics({k.replace("*", "_").replace(":", "_"): v for k, v in metrics.items() if np.isfinite(v)})
        runs.log_files([out / "mhc_few_shot_draws.csv", out / "mhc_few_shot.csv", out / "mhc_cross_validation.csv",
                        out / "mhc_benchmark.json"])
    return summary, metrics
