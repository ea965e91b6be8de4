"""Tests for molprior.cli.options: lists of names that hold commas, from the command line."""

from __future__ import annotations

import argparse

import pytest

from molprior.cli.main import build_parser
from molprior.cli.options import device, name_list
from molprior.errors import InputError


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


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield " ".join(path), {s for a in parser._actions for s in a.option_strings}
    for action in subparsers:
        for name, sub in action.choices.items():
            yield from _commands(sub, path + (name,))


#: Commands that read no input file of their own (a configuration names their data, or none).
WITHOUT_INPUT = {"data list", "data fetch", "generate", "registry list", "registry show", "registry search",
                 "registry promote", "registry compare", "peptides alleles", "pipeline run", "demo"}


def test_every_command_names_its_input_with_i_and_its_output_with_o():
    commands = dict(_commands(build_parser()))
    assert WITHOUT_INPUT < set(commands)  # the list names real commands
    for name, options in commands.items():
        if "--output" in options:
            assert "-o" in options, name
        if name not in WITHOUT_INPUT:
            assert {"-i", "--input"} <= options, name


def test_the_old_input_option_names_still_work():
    parser = build_parser()
    assert parser.parse_args(["peptides", "score", "--peptides", "p.txt", "-o", "o.csv"]).peptides == "p.txt"
    assert parser.parse_args(["peptides", "score", "-i", "p.txt", "-o", "o.csv"]).peptides == "p.txt"
    assert parser.parse_args(["adapt", "--support", "s.csv", "-o", "m"]).support == "s.csv"
    assert parser.parse_args(["adapt", "-i", "s.csv", "-o", "m"]).support == "s.csv"
    assert parser.parse_args(["pretrain", "--corpus", "c.smi", "-o", "m"]).corpus == "c.smi"
    assert parser.parse_args(["pretrain", "-i", "c.smi", "-o", "m"]).corpus == "c.smi"
    assert parser.parse_args(["peptides", "adapt", "--allele", "A", "-i", "m.csv"]).measurements == "m.csv"


def test_the_device_is_checked_before_any_work(monkeypatch):
    import torch

    assert device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(InputError, match="--device cuda: no CUDA device is available to torch"):
        device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device("cuda") == torch.device("cuda")
    with pytest.raises(InputError, match="has 1 CUDA device"):
        device("cuda:3")
    for wrong in ("mps", "gpu0"):
        with pytest.raises(InputError, match=f"--device {wrong}"):
            device(wrong)


def test_predict_and_peptides_score_take_a_device():
    parser = build_parser()
    assert parser.parse_args(["predict", "-i", "lib.smi", "-o", "out.csv"]).device == "cpu"
    assert parser.parse_args(["predict", "-i", "lib.smi", "-o", "out.csv", "--device", "cuda"]).device == "cuda"
    assert parser.parse_args(["peptides", "score", "-i", "p.txt", "-o", "o.csv", "--device", "cuda:1"]).device == "cuda:1"
