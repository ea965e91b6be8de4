"""``molprior benchmark mhc``: the MHC class I protocol on held-out alleles, cross-validation and
scoring throughput (``../shared/GUIDE.md`` section 4)."""

from __future__ import annotations

import argparse
import sys

from molprior.cli.options import comma_list

DEFAULT_CONFIG = "mhc_benchmark"
TARGETS = "targets: k=32 mean ROC-AUC >= 0.85 and >= rf + 0.05; cross-validated ROC-AUC >= 0.93; >= 1,000 peptides/s"
SPEED_TARGET = 5000  # peptides/s against a six-allele genotype on 2 cores
COLD_TARGET = 1 / 1.2  # the cold start at most 20% slower than the steady state


def speed_verdict(result: dict[str, float]) -> str:
    """Whether the throughput meets the targets, with the figures."""
    rate, cold = result["peptides_per_s_genotype"], result.get("ratio_cold_vs_steady")
    lines = [f"target >= {SPEED_TARGET:,} peptides/s ({result.get('speed_alleles', 0):.0f} alleles, "
             f"{result.get('speed_jobs', 1):.0f} workers): {rate:,.0f} -> {'met' if rate >= SPEED_TARGET else 'NOT met'}"]
    if cold is not None:
        lines.append(f"target cold start >= {COLD_TARGET:.3f} x steady: {cold:.3f} -> "
                     f"{'met' if cold >= COLD_TARGET else 'NOT met'}")
    return "\n".join(lines)


def add_mhc_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the MHC protocol (shared with ``pipelines/benchmark_mhc.py``)."""
    parser.add_argument("--config", default=DEFAULT_CONFIG,
                        help=f"YAML with MHCBenchmarkConfig keys: held-out alleles, sizes, methods, the model's "
                             f"training: a file or a preset (default: the {DEFAULT_CONFIG} preset)")
    parser.add_argument("-i", "--input", metavar="FILE", help="MHC measurements (default: the configuration's data)")
    parser.add_argument("-o", "--output", default="out/benchmark-mhc", help="output directory (default out/benchmark-mhc)")
    parser.add_argument("--draws", type=int, help="supports drawn per allele and size (default: the configuration's)")
    parser.add_argument("--methods", type=comma_list, metavar="M,...",
                        help="molprior, rf_onehot, rf_blosum62, nearest_allele, pretrained_no_meta, scratch")
    parser.add_argument("--prior", help="peptide (the configuration's), default (the drug-like prior), or a directory")
    parser.add_argument("--epochs", type=int, help="meta-training epochs (default: the configuration's)")
    parser.add_argument("-j", "--jobs", type=int, default=2,
                        help="worker processes: random forests, and peptide scoring in the throughput (default 2)")
    parser.add_argument("--threads", type=int, help="torch threads")
    parser.add_argument("--speed-only", action="store_true",
                        help="only the throughput measurement, on --model (default: the shipped model)")
    parser.add_argument("--model", help="with --speed-only: an MHC model directory or MLflow URI")
    parser.add_argument("--speed-peptides", type=int, help="peptides scored for the throughput (default: configuration)")


def add_mhc_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``mhc`` protocol to the ``molprior benchmark`` subcommands."""
    parser = subparsers.add_parser(
        "mhc", help="MHC class I: held-out alleles few-shot, cross-validation, throughput",
        description="Meta-train the allele model without the held-out alleles, then on each of them draw supports "
                    "of 16-128 measurements and report ROC-AUC at 500 nM and Spearman on the rest, next to "
                    "per-allele random forests (one-hot, BLOSUM62), the nearest well-measured allele's model, the "
                    "prior without meta-learning and a network trained from scratch; 5-fold cross-validation on "
                    "held-out alleles with >= 1,000 measurements; and scoring throughput against a 6-allele "
                    "genotype. Writes mhc_few_shot.csv, mhc_few_shot_draws.csv, mhc_cross_validation.csv and "
                    "mhc_benchmark.json, in one MLflow run.")
    add_mhc_arguments(parser)
    parser.set_defaults(handler=run_mhc)
    return parser


def run_mhc(args: argparse.Namespace) -> int:
    from molprior.config import load_yaml_config
    from molprior.workflows.mhc_benchmark import MHCBenchmarkConfig, run_mhc_benchmark, run_speed

    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    config = load_yaml_config(MHCBenchmarkConfig, args.config, data=args.input, draws=args.draws,
                              methods=args.methods,
                              train={"prior": args.prior or None, "trainer": {"max_epochs": args.epochs or None}})
    if args.speed_only:
        result = run_speed(config, args.output, args.model, args.speed_peptides, args.jobs)
        for key, value in result.items():
            print(f"{key}: {value:.3f}")
        print(speed_verdict(result))
        return 0
    summary, metrics = run_mhc_benchmark(config, args.output, args.jobs, progress=not args.quiet and sys.stderr.isatty())
    print("ROC-AUC at 500 nM (mean over held-out alleles):")
    print(summary.pivot(index="method", columns="support_size", values="roc_auc").round(3).to_string())
    print("Spearman:")
    print(summary.pivot(index="method", columns="support_size", values="spearman").round(3).to_string())
    for key in sorted(k for k in metrics if k.startswith(("cv.", "peptides_per_s", "ratio"))):
        print(f"{key}: {metrics[key]:.3f}")
    print(TARGETS)
    return 0
