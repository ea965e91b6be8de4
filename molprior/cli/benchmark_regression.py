"""``molprior benchmark regression``: full-data fine-tuning on MoleculeACE's train/test split."""

from __future__ import annotations

import argparse

from molprior.cli.options import NAMES_HELP, add_jobs_option, comma_list, jobs, name_list

DEFAULT_INPUT = "data/moleculeace"


def add_regression_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of the regression protocol (shared with ``pipelines/benchmark_regression.py``)."""
    from molprior.workflows.regression_settings import METATRAIN_EPOCHS, METHODS, FinetuneConfig

    parser.add_argument("-i", "--input", default=DEFAULT_INPUT,
                        help=f"MoleculeACE directory or CHEMBL*_Ki.csv file (default: {DEFAULT_INPUT})")
    parser.add_argument("-o", "--output", required=True, help="output directory for results.csv and the rest")
    parser.add_argument("--model", help="initialisation of gnn_finetune: a meta-trained few-shot model directory or "
                                        "MLflow URI (runs:/..., models:/...); default: meta-train one on the "
                                        "training splits first")
    parser.add_argument("--methods", type=comma_list, default=list(METHODS), metavar="M,...",
                        help=f"methods to compare (default and available: {','.join(METHODS)})")
    parser.add_argument("--assays", type=name_list, metavar="A,B,...", help="targets to run (default: all): " + NAMES_HELP)
    parser.add_argument("--epochs", type=int, default=FinetuneConfig.epochs,
                        help=f"fine-tuning epochs of gnn_finetune per target (default {FinetuneConfig.epochs})")
    parser.add_argument("--metatrain-epochs", type=int, default=METATRAIN_EPOCHS,
                        help=f"meta-training epochs of the default initialisation (default {METATRAIN_EPOCHS})")
    parser.add_argument("--seed", type=int, default=0)
    add_jobs_option(parser)


def add_regression_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``regression`` protocol to the ``molprior benchmark`` subcommands."""
    parser = subparsers.add_parser(
        "regression", help="full-data regression on MoleculeACE (RMSE and cliff RMSE)",
        description="On MoleculeACE's own train/test split (its 'split' column), fit every method on each "
                    "target's training molecules and report the test RMSE and the RMSE on the test molecules with "
                    "cliff_mol = 1. Methods: SVR (Tanimoto kernel) and random forest on ECFP4, and the GNN "
                    "fine-tuned from a meta-learned initialisation. Writes results.csv (method,assay,rmse,"
                    "rmse_cliff) and prints the means per method.")
    add_regression_arguments(parser)
    parser.set_defaults(handler=run_regression)
    return parser


def run_regression(args: argparse.Namespace) -> int:
    from molprior.workflows.regression import run_regression_benchmark

    outcome = run_regression_benchmark(args.input, args.output, model=args.model, methods=args.methods,
                                       assays=args.assays, jobs=jobs(args.jobs), epochs=args.epochs,
                                       seed=args.seed, metatrain_epochs=args.metatrain_epochs)
    print("mean over targets:")
    print(outcome.table_text)
    print(f"results: {outcome.outputs['results']}")
    print(f"MLflow run: {outcome.run_id}")
    return 0
