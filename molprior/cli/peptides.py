"""``molprior peptides``: score peptides against MHC class I alleles, list the alleles, adapt
to a new allele, train the model."""

from __future__ import annotations

import argparse
import json
import sys

from molprior.cli.options import add_device_option, comma_list, device, jobs

CHUNK_ROWS = 5000  # molprior.workflows.peptide_scoring.CHUNK_ROWS (not imported: the parser stays light)

MODEL_HELP = ("MHC model: a directory or an MLflow URI such as models:/molprior-mhc-i@champion "
              "(default: the model shipped with molprior)")


def add_parser(commands) -> None:
    parser = commands.add_parser("peptides", help="MHC class I: score peptides, list alleles, adapt to a new allele",
                                 description="Peptide/MHC class I binding affinity: IC50, binder calls and percentile "
                                             "ranks for a genotype; new alleles from a few measurements.")
    sub = parser.add_subparsers(dest="peptides_command", metavar="COMMAND")
    sub.required = True

    score = sub.add_parser("score", help="score a peptide list against alleles",
                           description="One output row per peptide and allele. Bad peptides and unknown alleles get "
                                       "a per-row error; the rest is scored.")
    score.add_argument("-i", "--input", "--peptides", dest="peptides", required=True, metavar="FILE",
                       help="one peptide per line, or a CSV with a 'peptide' column (and optionally 'allele')")
    score.add_argument("--alleles", type=comma_list, metavar="A,B,...",
                       help="the genotype, e.g. HLA-A*02:01,HLA-B*07:02 (any common spelling); "
                            "not needed when the CSV has an allele column")
    score.add_argument("-o", "--output", required=True, metavar="FILE", help="output CSV (written atomically)")
    score.add_argument("--model", help=MODEL_HELP)
    score.add_argument("--mhcflurry-columns", action="store_true",
                       help="name the columns as mhcflurry-predict does (mhcflurry_affinity, "
                            "mhcflurry_affinity_percentile, mhcflurry_best_allele)")
    score.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS,
                       help=f"peptides read (and scored by one worker) per chunk (default {CHUNK_ROWS})")
    score.add_argument("-j", "--jobs", type=int, default=-1,
                       help="worker processes, each scoring whole chunks (default: all cores)")
    add_device_option(score)
    score.set_defaults(handler=run_score)

    alleles = sub.add_parser("alleles", help="the alleles a model scores, with their measurement counts")
    alleles.add_argument("--model", help=MODEL_HELP)
    alleles.add_argument("--json", action="store_true", help="print JSON")
    alleles.set_defaults(handler=run_alleles)

    adapt = sub.add_parser("adapt", help="a model for a new allele from 16-128 measurements (registered)",
                           description="Adapt the meta-learned allele head to an allele's measurements (CSV with "
                                       "peptide, ic50 in nM, optionally measurement_inequality), save the model "
                                       "with the new allele and register it with its lineage.")
    adapt.add_argument("--allele", required=True, help="the allele, e.g. HLA-B*57:01")
    adapt.add_argument("-i", "--input", "--measurements", dest="measurements", required=True, metavar="FILE",
                       help="the allele's measurements: CSV with peptide, ic50 (nM), optionally measurement_inequality")
    adapt.add_argument("-o", "--output", default="out/mhc-adapt", help="output directory (default out/mhc-adapt)")
    adapt.add_argument("--model", help=MODEL_HELP)
    adapt.add_argument("--steps", type=int, help="inner-loop steps (default: the meta-trained number)")
    adapt.add_argument("--register", default="molprior-mhc-i", metavar="NAME",
                       help="registered model name (default molprior-mhc-i)")
    adapt.add_argument("--no-register", action="store_true", help="save the model but do not register it")
    adapt.set_defaults(handler=run_adapt)

    train = sub.add_parser("train", help="meta-train the MHC model across alleles (tracked, registered)")
    train.add_argument("--config", help="YAML with MHCTrainConfig keys (a file or a preset; the defaults are the mhc preset's)")
    train.add_argument("-i", "--input", metavar="FILE", help="MHC measurements (default: the configuration's data)")
    train.add_argument("-o", "--output", default="out/mhc", help="output directory (default out/mhc)")
    train.add_argument("--register", default="molprior-mhc-i", metavar="NAME")
    train.add_argument("--no-register", action="store_true")
    train.add_argument("--alias", default="champion", help="alias to promote the version to if it beats the holder")
    train.set_defaults(handler=run_train)


def run_score(args: argparse.Namespace) -> int:
    from molprior.serialization import load_predictor
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.workflows.peptide_scoring import score_peptide_file

    predictor = load_predictor(resolve_model_dir(args.model, "mhc")).to(device(args.device))
    return report_scoring(score_peptide_file(predictor, args.peptides, args.output, args.alleles, args.chunk_rows,
                                             args.mhcflurry_columns, jobs=jobs(args.jobs)))


def report_scoring(outcome) -> int:
    """Print what a peptide scoring run did (``molprior peptides score`` and ``molprior predict``
    with an MHC model); exit code 1 when nothing could be scored."""
    from molprior.workflows.peptide_scoring import empty_lines_note

    rate = outcome.peptides / outcome.seconds if outcome.seconds else 0.0
    print(f"scored {outcome.scored} peptide/allele pairs of {outcome.peptides} peptides "
          f"({outcome.errors} rows with an error) in {outcome.seconds:.1f} s ({rate:.0f} peptides/s) -> {outcome.output}")
    if outcome.empty_lines:
        print(f"note: {empty_lines_note(outcome.empty_lines)}")
    for message in outcome.allele_errors:
        print(f"allele error: {message}", file=sys.stderr)
    return 1 if outcome.scored == 0 and outcome.peptides else 0


def run_alleles(args: argparse.Namespace) -> int:
    from molprior.serialization import load_predictor
    from molprior.tracking.artifacts import resolve_model_dir

    predictor = load_predictor(resolve_model_dir(args.model, "mhc"))
    rows = [{"allele": a, **predictor.alleles.get(a, {})} for a in predictor.supported]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'allele':<14}{'measurements':>13}{'binders':>9}  {'role':<16}head")
    for row in rows:
        print(f"{row['allele']:<14}{row.get('measurements', 0):>13}{row.get('binders', 0):>9}  "
              f"{row.get('role', ''):<16}{row.get('head', '')}")
    return 0


def run_adapt(args: argparse.Namespace) -> int:
    from molprior.workflows.mhc_adapt import run_adapt_allele

    outcome, version = run_adapt_allele(args.allele, args.measurements, args.output, args.model, args.steps,
                                        None if args.no_register else args.register)
    print(f"{'re-adapted' if outcome.replaced else 'adapted'} {outcome.allele} to {outcome.measurements} measurements "
          f"({outcome.binders} binders; {len(outcome.rejected)} rows rejected) -> {outcome.model_dir}")
    if version is not None:
        print(f"registered {version.name} version {version.version}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    from molprior.config import MHCTrainConfig, load_yaml_config
    from molprior.workflows.mhc_train import run_train_and_register

    config = load_yaml_config(MHCTrainConfig, args.config, data=args.input)
    outcome, version, promotion = run_train_and_register(config, args.output,
                                                         None if args.no_register else args.register, args.alias)
    print(f"MHC model: {len(outcome.predictor.supported)} alleles, meta-validation ROC-AUC "
          f"{outcome.metrics['best_val_roc_auc']:.3f} -> {outcome.model_dir} (run {outcome.run_id})")
    if version is not None:
        print(f"registered {version.name} version {version.version}; {promotion.message}")
    return 0
