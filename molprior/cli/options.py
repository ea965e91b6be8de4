"""Argument groups shared by several subcommands (Chemprop-style column options)."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from molprior.data.readers import FORMATS, InputSpec


def comma_list(text: str) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list")
    return items


def name_list(text: str) -> list[str]:
    """Assay names: comma-separated, a name holding a comma quoted as in CSV, ``@FILE`` for
    one name per line, ``START:STOP`` for a range of the input's assays in file order."""
    if text.startswith("@"):
        path = Path(text[1:])
        if not path.is_file():
            raise argparse.ArgumentTypeError(f"no such file of names: {path}")
        items = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines()]
    else:
        try:
            items = [t.strip() for t in next(csv.reader([text], skipinitialspace=True), [])]
        except csv.Error as error:
            raise argparse.ArgumentTypeError(f"cannot read the list {text!r}: {error}") from None
    items = [t for t in items if t]
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


#: ``--help`` text for options that take assay names (see :func:`name_list`).
NAMES_HELP = ("comma-separated; quote a name holding a comma as in CSV ('\"A, B\",C'), or give @FILE with one "
              "name per line; START:STOP selects the input's assays by position in file order, e.g. --test-assays=-6: "
              "for the last six (write = before a value that starts with -)")


def int_list(text: str) -> list[int]:
    try:
        return [int(t) for t in comma_list(text)]
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from error


def int_map(text: str) -> dict[str, int]:
    """``NAME=N,NAME=N``: a count per name (``--method-draws gnn_scratch=1``)."""
    counts = {}
    for item in comma_list(text):
        name, _, value = item.partition("=")
        try:
            counts[name.strip()] = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected NAME=N, got {item!r}") from None
        if counts[name.strip()] < 1 or not name.strip():
            raise argparse.ArgumentTypeError(f"expected a name and a positive count, got {item!r}")
    return counts


def add_input_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("input columns")
    group.add_argument("--format", choices=FORMATS, default="auto",
                       help="input layout (default: guessed from the file name and header)")
    group.add_argument("--smiles-column", help="column holding SMILES (default: 'smiles' or a known alias)")
    group.add_argument("--target-columns", type=name_list, metavar="A,B,...",
                       help="wide files: the assay columns to read (default: every other column); quote a name "
                            "holding a comma as in CSV ('\"A, B\",C') or give @FILE with one name per line")
    group.add_argument("--assay-column", help="long files: column naming the assay (default: 'assay')")
    group.add_argument("--value-column", help="long files: column holding the measurement (default: 'value')")


def input_spec(args: argparse.Namespace) -> InputSpec:
    """The input options given on the command line."""
    return InputSpec(args.format, args.smiles_column, args.target_columns, args.assay_column, args.value_column)


def add_jobs_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-j", "--jobs", type=int, default=-1,
                        help="worker processes for standardisation and featurisation (default: all cores)")


def jobs(value: int) -> int:
    from molprior.parallel import available_cores

    return available_cores() if value == -1 else max(1, value)


def add_device_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", default="cpu",
                        help="where the model runs: cpu (default) or cuda (cuda:N for another GPU); with cuda the "
                             "model runs in the main process (molecules: workers only read and featurise)")


def device(value: str):
    """The torch device ``--device`` names, refused clearly when this machine has no such device."""
    import torch

    from molprior.errors import InputError

    try:
        chosen = torch.device(value)
    except RuntimeError as error:
        raise InputError(f"--device {value}: not a device ({error}); choose cpu or cuda") from None
    if chosen.type == "cuda":
        if not torch.cuda.is_available():
            build = f"CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
            raise InputError(f"--device {value}: no CUDA device is available to torch {torch.__version__} "
                             f"({build}); see the README's GPU install, or use --device cpu")
        if chosen.index is not None and chosen.index >= torch.cuda.device_count():
            raise InputError(f"--device {value}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif chosen.type != "cpu":
        raise InputError(f"--device {value}: choose cpu or cuda")
    return chosen
