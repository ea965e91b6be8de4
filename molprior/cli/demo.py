"""``molprior demo``: the main job on the embedded demo data."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "demo"


def add_parser(commands) -> None:
    parser = commands.add_parser(
        "demo", help="run the main job on the embedded demo data",
        description="The whole pipeline on the embedded data: a short generative pretraining on MOSES molecules, a few "
                    "molecules sampled from the shipped prior, the shipped few-shot model (meta-trained on FS-Mol's "
                    "training tasks, MoleculeACE's molecules kept out) adapted per support on MoleculeACE's 8 test "
                    "targets next to the baselines, then adapted to 64 molecules of one of them and registered as "
                    "molprior-demo (alias champion when it beats the holder), and the rest of that assay scored "
                    "through models:/molprior-demo@champion. One parent MLflow run with "
                    "a nested run per step. Then immunology: the shipped MHC class I model adapted to HLA-B*57:01 "
                    "(not among its alleles) from 64 measurements, registered as a molprior-mhc-i version, and the "
                    "other measured peptides scored against a six-allele genotype.")
    parser.add_argument("--config", default=DEFAULT_CONFIG, help=f"pipeline YAML, a file or a preset (default: the {DEFAULT_CONFIG} preset)")
    parser.add_argument("-o", "--output", help="output directory (default: from the configuration)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from molprior.cli.pipeline import print_outcome
    from molprior.config import PipelineConfig, load_yaml_config
    from molprior.workflows.pipeline import run_pipeline

    config = load_yaml_config(PipelineConfig, args.config)
    if args.output:
        config.output = args.output
    print_outcome(run_pipeline(config, name="demo"))
    from molprior.workflows.mhc_demo import print_peptide_demo, run_peptide_demo

    print_peptide_demo(run_peptide_demo(f"{config.output}/peptides"))
    return 0
