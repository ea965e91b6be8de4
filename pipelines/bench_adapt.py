"""Adaptation speed: a few-shot model adapting to 64 support molecules, on CPU, in one process.

    python pipelines/bench_adapt.py [--model MODEL] [--assay CHEMBL2047_EC50] [--support 64] [--repeats 10]

The model (``--model``, a meta-trained model; without one, the shipped few-shot model) is
loaded first; then, ``--repeats`` times on fresh stratified supports of ``--support`` molecules of a
MoleculeACE test assay, it times ``molprior adapt``'s two steps once the model is loaded:
featurising the support (graphs and ECFP4) and the adaptation itself.  Printed: the median
seconds of each and of the two together (the target is under 1 s), and, as a baseline run in
the same process on the same supports, the median seconds to fit the random forest on ECFP4
(fingerprints included); the ratio of the two is what to compare across machines.  Logged to
MLflow as one run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from molprior.chem.fingerprints import ecfp
from molprior.data.episodes import stratified_episode
from molprior.data.prepare import prepare_table
from molprior.data.tasks import tasks_from_table
from molprior.meta.baselines import random_forest_scores
from molprior.meta.batches import MoleculeBank
from molprior.tracking import runs
from molprior.workflows.adapt import load_fewshot_model

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="meta-trained model (directory, runs:/ or models:/ URI; default: the shipped "
                                        "few-shot model)")
    parser.add_argument("--assay", default="CHEMBL2047_EC50")
    parser.add_argument("--support", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    learner = load_fewshot_model(args.model)[0]
    task = tasks_from_table(prepare_table(ROOT / "data" / "moleculeace" / f"{args.assay}.csv").table, [args.assay])[0]
    rng = np.random.default_rng(0)
    timings: dict[str, list[float]] = {"featurise": [], "adapt": [], "total": [], "rf_ecfp": []}
    bits = learner.model.head_config.fingerprint_dim
    for _ in range(args.repeats):
        episode = stratified_episode(task.labels, args.support // 2, args.support - args.support // 2, rng)
        smiles = [task.inputs[i] for i in episode.support]
        labels = task.labels[episode.support]
        start = time.perf_counter()
        bank, _ = MoleculeBank.build(smiles, fingerprint_bits=bits)
        batch = bank.batch(bank.indices(smiles))
        featurised = time.perf_counter()
        learner.adapt(batch, torch.as_tensor(labels, dtype=torch.float32))
        done = time.perf_counter()
        timings["featurise"].append(featurised - start)
        timings["adapt"].append(done - featurised)
        timings["total"].append(done - start)
        start = time.perf_counter()
        x = ecfp(smiles)
        random_forest_scores(x, labels, x[:1])
        timings["rf_ecfp"].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in timings.items()}
    with runs.tracked_run("bench-adapt", params={"model": args.model or "shipped few-shot model",
                                                 "assay": args.assay, "support": args.support,
                                                 "repeats": args.repeats, "threads": torch.get_num_threads()}):
        runs.log_metrics({f"{k}_seconds": v for k, v in medians.items()})
        runs.log_metrics({"adapt_over_rf": medians["total"] / medians["rf_ecfp"]})
    print(f"support: {args.support} molecules of {args.assay}; algorithm {learner.config.algorithm} "
          f"{learner.config.maml if learner.config.algorithm == 'maml' else ''}; torch threads {torch.get_num_threads()}")
    for name in ("featurise", "adapt", "total"):
        print(f"{name}: {medians[name]:.3f} s (median of {args.repeats})")
    print(f"rf_ecfp fit (baseline, same supports): {medians['rf_ecfp']:.3f} s")
    print(f"ratio total / rf_ecfp: {medians['total'] / medians['rf_ecfp']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
