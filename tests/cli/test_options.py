"""Tests for molprior.cli.options: lists of names that hold commas, from the command line."""

from __future__ import annotations

import argparse

import pytest

from molprior.cli.main import build_parser
from molprior.cli.options import name_list


def test_quoted_names_keep_their_commas():
    assert name_list('"Pregnancy, puerperium and perinatal conditions",Cardiac disorders') == [
        "Pregnancy, puerperium and perinatal conditions", "Cardiac disorders"]
    assert name_list("CHEMBL214_Ki, CHEMBL233_Ki") == ["CHEMBL214_Ki", "CHEMBL233_Ki"]


def test_a_file_of_names_one_per_line(tmp_path):
    names = tmp_path / "test_assays.txt"
    names.write_text("\ufeffNeoplasms benign, malignant and unspecified (incl cysts and polyps)\n\nEye disorders\n",
                     encoding="utf-8")
    assert name_list(f"@{names}") == ["Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
                                      "Eye disorders"]
    with pytest.raises(argparse.ArgumentTypeError, match="no such file"):
        name_list(f"@{tmp_path / 'missing.txt'}")


def test_an_empty_list_is_refused():
    with pytest.raises(argparse.ArgumentTypeError):
        name_list(" , ")


def test_the_benchmark_command_takes_quoted_names_ranges_and_says_how():
    parser = build_parser()
    args = parser.parse_args(["benchmark", "fewshot", "--input", "sider.csv", "-o", "out",
                              "--test-assays", '"Pregnancy, puerperium and perinatal conditions",Eye disorders',
                              "--val-assays=-6:"])
    assert args.test_assays == ["Pregnancy, puerperium and perinatal conditions", "Eye disorders"]
    assert args.val_assays == ["-6:"]
    sub = parser._subparsers._group_actions[0].choices["benchmark"]._subparsers._group_actions[0].choices["fewshot"]
    text = " ".join(sub.format_help().split())
    assert "@FILE" in text and "-6:" in text and "quote a name holding a comma" in text
