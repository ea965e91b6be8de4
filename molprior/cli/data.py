"""``molprior data``: list and fetch public datasets; check and standardise an input file."""

from __future__ import annotations

import argparse
import sys

from molprior.cli.options import add_input_options, add_jobs_option, input_spec, jobs


def add_parser(commands) -> None:
    parser = commands.add_parser("data", help="public datasets and input checking",
                                 description="List and fetch public datasets; check and standardise input files.")
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    sub.required = True

    listing = sub.add_parser("list", help="named public datasets with source, licence and checksum",
                             description="Show the named public datasets molprior can fetch.")
    listing.set_defaults(handler=run_list)

    fetch = sub.add_parser("fetch", help="download a dataset into the cache and verify its checksum",
                           description="Download NAME into the cache directory ($MOLPRIOR_CACHE_DIR or "
                                       "~/.cache/molprior/datasets) and verify its checksum. With "
                                       "$MOLPRIOR_DATA_MIRROR set, the file is taken from that directory instead.")
    fetch.add_argument("name", help="dataset name (see `molprior data list`)")
    fetch.add_argument("--cache-dir", help="where to put the file (default: the cache directory)")
    fetch.set_defaults(handler=run_fetch)

    check = sub.add_parser("check", help="validate and standardise an input file, report rejected rows",
                           description="Read INPUT (wide, long, MoleculeACE, MHC or SMILES list), standardise every "
                                       "molecule, merge duplicates, and write standardized.csv, rejected.csv, "
                                       "duplicates.csv and summary.json into --output.")
    check.add_argument("input_path", nargs="?", metavar="INPUT",
                       help="input file, MoleculeACE directory, or dataset:NAME (see `molprior data list`)")
    check.add_argument("-i", "--input", help="the same as INPUT")
    check.add_argument("-o", "--output", required=True, help="output directory")
    add_input_options(check)
    add_jobs_option(check)
    check.add_argument("--keep-fragments", action="store_true", help="do not strip salts (keep every fragment)")
    check.add_argument("--keep-charges", action="store_true", help="do not neutralise")
    check.add_argument("--canonical-tautomer", action="store_true", help="canonicalise tautomers (slow)")
    check.add_argument("--max-heavy-atoms", type=int, default=None, help="reject larger molecules (default: 1000)")
    check.set_defaults(handler=run_check)


def run_list(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from molprior.data.catalog import DATASETS, MIRROR_ENV, cache_dir

    table = Table(title="molprior datasets", show_lines=False)
    for column in ("name", "description", "licence", "source", "checksum"):
        table.add_column(column, overflow="fold")
    for d in DATASETS.values():
        table.add_row(d.name, d.description, d.licence, d.source.location, d.source.checksum)
    console = Console(width=max(Console().width, 160))
    console.print(table)
    console.print(f"cache: {cache_dir()}   mirror: ${MIRROR_ENV} (local directory to fetch from instead)")
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from molprior.data.catalog import DatasetError, fetch

    try:
        path = fetch(args.name, args.cache_dir)
    except DatasetError as error:
        print(f"molprior data fetch: error: {error}", file=sys.stderr)
        return 1
    print(path)
    return 0


def run_check(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from molprior.errors import InputError

    if args.input and args.input_path and args.input != args.input_path:
        raise InputError(f"two inputs given ({args.input_path} and -i {args.input}): give one")
    args.input = args.input or args.input_path
    if not args.input:
        raise InputError("molprior data check needs an input: INPUT or -i/--input")

    from molprior.chem.standardize import DEFAULT_MAX_HEAVY_ATOMS, StandardizeOptions
    from molprior.data.check import check_file
    from molprior.data.curation import CurationOptions
    from molprior.errors import InputError
    from molprior.files import OutputPathError
    from molprior.tracking import runs
    from molprior.workflows.progress import progress_bar

    molecules = StandardizeOptions(
        largest_fragment=not args.keep_fragments,
        neutralize=not args.keep_charges,
        canonical_tautomer=args.canonical_tautomer,
        max_heavy_atoms=args.max_heavy_atoms or DEFAULT_MAX_HEAVY_ATOMS,
    )
    params = {"input": args.input, "format": args.format, "smiles_column": args.smiles_column,
              "target_columns": args.target_columns, **asdict(molecules)}
    try:
        with runs.tracked_run("data-check", params={k: v for k, v in params.items() if v is not None}):
            runs.log_input_file(args.input)
            with progress_bar("standardising", None) as advance:
                summary = check_file(args.input, args.output, input_spec(args), CurationOptions(molecules),
                                     n_jobs=jobs(args.jobs), progress=advance, on_read=advance.set_total)
            runs.log_metrics({k: v for k, v in asdict(summary).items() if isinstance(v, int)})
            runs.log_files(summary.outputs, artifact_path="check")
    except (InputError, OutputPathError) as error:
        print(f"molprior data check: error: {error}", file=sys.stderr)
        return 2
    print(f"{summary.input} ({summary.format}): {summary.measurements_read} measurements read, "
          f"{summary.measurements_kept} kept for {summary.molecules_kept} molecules in {summary.assays} assays; "
          f"{summary.rows_rejected} lines rejected; {summary.duplicate_groups} duplicate groups merged "
          f"({summary.conflicting_groups} conflicting)")
    if summary.identifier_columns:
        print(f"  identifier columns carried along (not measurements): {', '.join(summary.identifier_columns)}")
    for name, path in summary.outputs.items():
        print(f"  {name:12s} {path}")
    return 0
