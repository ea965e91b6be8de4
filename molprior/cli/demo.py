"""``molprior demo``: the main job on the embedded demo data."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "pipelines/configs/demo.yaml"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "demo", help="run the main job on the embedded demo data",
        description="Standardise and featurise the embedded MoleculeACE data, run the few-shot protocol with the "
                    "baselines on the project's 8 test assays, print the table and log everything to MLflow.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"YAML configuration (default: {DEFAULT_CONFIG})")
    parser.add_argument("-o", "--output", help="output directory (default: from the configuration)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from molprior.config import load_demo_config
    from molprior.tracking.runs import tracking_uri
    from molprior.workflows.demo import run_demo

    config = load_demo_config(args.config)
    if args.output:
        config.output = args.output
    outcome = run_demo(config)
    print()
    print("Few-shot assay protocol (MoleculeACE, 8 test assays; mean ± std over assays of the mean over draws)")
    print(outcome.table_text)
    print()
    print(f"results: {outcome.outputs['results']}")
    uri = tracking_uri()
    print(f"MLflow run {outcome.outputs['run_id']} in {uri}; browse with: mlflow ui --backend-store-uri {uri}")
    return 0
