"""MHC class I benchmark: held-out alleles few-shot, cross-validation, scoring throughput.

    python pipelines/benchmark_mhc.py [--config pipelines/configs/mhc_benchmark.yaml]
        [--output out/benchmark-mhc] [--draws N] [--methods molprior,rf_onehot,...]
        [--prior peptide|default|DIR] [-j JOBS] [--threads T]

Meta-trains the allele model without the held-out alleles, runs the protocol of
../shared/GUIDE.md section 4 on them next to per-allele random forests (one-hot, BLOSUM62),
the nearest well-measured allele's model, the prior without meta-learning and a network
trained from scratch; 5-fold cross-validation on held-out alleles with >= 1,000 measurements;
and scoring throughput against a 6-allele genotype.  Writes mhc_few_shot.csv (mean over
draws, then alleles), mhc_few_shot_draws.csv, mhc_cross_validation.csv and mhc_benchmark.json,
logs one MLflow run, and prints the tables and the targets.
"""

import argparse
import sys
from dataclasses import fields
from pathlib import Path

import yaml

from molprior.cli.main import configure_logging
from molprior.cli.options import comma_list
from molprior.workflows.mhc_benchmark import MHCBenchmarkConfig, run_mhc_benchmark, run_speed

TARGETS = "targets: k=32 mean ROC-AUC >= 0.85 and >= rf + 0.05; cross-validated ROC-AUC >= 0.93; >= 1,000 peptides/s"


def load_config(path: str) -> MHCBenchmarkConfig:
    values = yaml.safe_load(Path(path).read_text()) or {}
    known = {f.name for f in fields(MHCBenchmarkConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"{path}: unknown keys {unknown}; known: {sorted(known)}")
    return MHCBenchmarkConfig(**values)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default="pipelines/configs/mhc_benchmark.yaml")
    parser.add_argument("-o", "--output", default="out/benchmark-mhc")
    parser.add_argument("--draws", type=int)
    parser.add_argument("--methods", type=comma_list)
    parser.add_argument("--prior", help="peptide (default), default (the drug-like prior), or a directory")
    parser.add_argument("--epochs", type=int, help="meta-training epochs (default: the config's)")
    parser.add_argument("-j", "--jobs", type=int, default=2, help="random-forest workers")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the throughput measurement, on --model (default: the shipped model)")
    parser.add_argument("--model", help="with --speed-only: an MHC model directory or MLflow URI")
    parser.add_argument("--speed-peptides", type=int, help="peptides scored for the throughput (default: config)")
    parser.add_argument("-q", "--quiet", action="store_true")
    args = parser.parse_args()
    configure_logging(False, args.quiet)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = load_config(args.config)
    if args.draws:
        config.draws = args.draws
    if args.methods:
        config.methods = args.methods
    if args.prior:
        config.train = {**config.train, "prior": args.prior}
    if args.epochs:
        config.train = {**config.train, "trainer": {**config.train.get("trainer", {}), "max_epochs": args.epochs}}
    if args.speed_only:
        speed = run_speed(config, args.output, args.model, args.speed_peptides)
        for key, value in speed.items():
            print(f"{key}: {value:.3f}")
        return 0
    summary, metrics = run_mhc_benchmark(config, args.output, args.jobs, progress=not args.quiet)
    table = summary.pivot(index="method", columns="support_size", values="roc_auc")
    print("ROC-AUC at 500 nM (mean over held-out alleles):")
    print(table.round(3).to_string())
    print("Spearman:")
    print(summary.pivot(index="method", columns="support_size", values="spearman").round(3).to_string())
    for key in sorted(k for k in metrics if k.startswith(("cv.", "peptides_per_s", "ratio"))):
        print(f"{key}: {metrics[key]:.3f}")
    print(TARGETS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
