"""Argument groups shared by several subcommands (Chemprop-style column options)."""

from __future__ import annotations

import argparse

from molprior.data.readers import FORMATS, InputSpec


def comma_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in comma_list(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input columns")
    group.add_argument("--format", choices=FORMATS, default="auto",
                       help="input layout (default: guessed from the file name and header)")
    group.add_argument("--smiles-column", help="column holding SMILES (default: 'smiles' or a known alias)")
    group.add_argument("--target-columns", type=comma_list, metavar="A,B,...",
                       help="wide files: the assay columns to read (default: every other column)")
    group.add_argument("--assay-column", help="long files: column naming the assay (default: 'assay')")
    group.add_argument("--value-column", help="long files: column holding the measurement (default: 'value')")


def input_spec(args: argparse.Namespace) -> InputSpec:
    """The input options given on the command line."""
    return InputSpec(args.format, args.smiles_column, args.target_columns, args.assay_column, args.value_column)


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=-1,
                        help="worker processes for standardisation and featurisation (default: all cores)")


def jobs(value: int) -> int:
    from molprior.chem.featurize import default_workers

    return default_workers() if value == -1 else max(1, value)
