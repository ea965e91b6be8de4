"""The ``molprior`` command: ``data``, ``pretrain``, ``generate``, ``metatrain``, ``adapt``, ``predict``,
``benchmark``, ``pipeline``, ``registry``, ``peptides`` and ``demo``.

Every subcommand is a thin shell: it parses arguments, calls library functions, prints.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from typing import Sequence

from molprior import __version__
from molprior.cli import benchmark, data, demo, fewshot, peptides, pipeline, pretrain, registry
from molprior.cli.signals import exits_on_sigterm
from molprior.errors import UserError
from molprior.tracking.artifacts import one_download_per_uri

EXIT_BUG, EXIT_USER_ERROR = 1, 2
COMMANDS = (data, pretrain, fewshot, benchmark, pipeline, registry, peptides, demo)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="molprior",
        description="Molecular property prediction from very little labelled data.",
    )
    parser.add_argument("--version", action="version", version=f"molprior {__version__}")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("-v", "--verbose", action="store_true", help="log debugging detail")
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for module in COMMANDS:
        module.add_parser(commands)
    return parser


def configure_logging(verbose: bool, quiet: bool) -> None:
    from molprior.workflows.progress import set_mode

    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:  # Lightning's start-up notices (GPU available, tips) are noise at the default level
        for name in ("pytorch_lightning", "lightning", "lightning_fabric", "pytorch_lightning.utilities.rank_zero",
                     "lightning.pytorch.utilities.rank_zero"):
            logging.getLogger(name).setLevel(logging.WARNING)
    set_mode("off" if quiet else "bar" if sys.stderr.isatty() else "log")


@exits_on_sigterm  # SIGTERM unwinds (finally blocks remove .part files) and exits 143
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, args.quiet)
    try:
        with one_download_per_uri():  # a model named by an MLflow URI is fetched once per command
            return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into head, less...: not an error
        sys.stderr.close()
        return 0
    except Exception as error:
        if args.verbose:  # the traceback, whoever's the mistake; the exit status still says whose
            traceback.print_exc()
        message = getattr(error, "message", None) or error
        if is_user_error(error):
            print(f"molprior {args.command}: error: {message}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"molprior {args.command}: internal error ({type(error).__name__}): {message}\n"
              f"this is a bug in molprior: run the command again with -v for the traceback and report it",
              file=sys.stderr)
        return EXIT_BUG


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (exit status 2): a :class:`~molprior.errors.UserError`,
    a file the user named that cannot be opened or written, or MLflow refusing a request
    (an unknown model, run or alias, a server that does not answer)."""
    return isinstance(error, (UserError, FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError)) \
        or type(error).__module__.startswith("mlflow.")


if __name__ == "__main__":
    sys.exit(main())
