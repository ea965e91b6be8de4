"""The regression benchmark's defaults live apart from its code, so that building the command
line (which shows them) imports no torch."""

from __future__ import annotations

import argparse
import subprocess
import sys

from molprior.cli.benchmark_regression import add_regression_arguments
from molprior.workflows import regression
from molprior.workflows.regression_settings import METATRAIN_EPOCHS, METHODS, FinetuneConfig


def test_the_command_line_shows_the_benchmarks_own_defaults():
    parser = argparse.ArgumentParser()
    add_regression_arguments(parser)
    args = parser.parse_args(["-o", "out"])
    assert args.methods == list(METHODS) and args.epochs == FinetuneConfig.epochs
    assert args.metatrain_epochs == METATRAIN_EPOCHS
    assert regression.FinetuneConfig is FinetuneConfig and regression.METHODS is METHODS  # one definition


def test_building_the_parser_imports_neither_torch_nor_mhcgnomes():
    code = ("import sys; from molprior.cli.main import build_parser; build_parser(); "
            "print(sorted(m for m in ('torch', 'mhcgnomes', 'torch_geometric') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
