"""molprior.cli.main: the ``molprior`` parser (help for every subcommand), logging and progress,
and the exit status of a command that fails (2: the user's error, 1: a bug)."""

from __future__ import annotations

import argparse

import pytest

from molprior.cli.main import build_parser, main

SUBCOMMANDS = [[], ["data"], ["data", "list"], ["data", "fetch"], ["data", "check"], ["pretrain"], ["generate"], ["benchmark"],
               ["benchmark", "fewshot"], ["benchmark", "regression"], ["benchmark", "mhc"], ["metatrain"], ["adapt"],
               ["predict"], ["pipeline"], ["pipeline", "run"], ["registry"], ["registry", "list"], ["registry", "show"],
               ["registry", "search"], ["registry", "promote"], ["registry", "compare"], ["peptides"],
               ["peptides", "score"], ["peptides", "alleles"], ["peptides", "adapt"], ["peptides", "train"], ["demo"]]


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """The words of every command and subcommand of ``parser``."""
    yield list(path)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, path + (name,))


def test_the_help_test_names_every_subcommand():
    assert sorted(_commands(build_parser())) == sorted(SUBCOMMANDS)


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=lambda w: " ".join(w) or "molprior")
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*words, "--help"])
    assert exit_.value.code == 0
    assert "usage: molprior" in capsys.readouterr().out


def test_parser_knows_all_commands():
    parser = build_parser()
    assert parser.parse_args(["data", "list"]).handler.__name__ == "run_list"


@pytest.mark.parametrize("quiet, expected", [(False, ["scoring: 10 of 10 (100%)"]), (True, [])])
def test_progress_goes_to_the_log_when_stderr_is_no_terminal(quiet, expected, caplog):
    """Under pytest stderr is captured, as in a run writing to a log file: progress comes as log
    lines rather than a bar (and not at all with -q)."""
    from molprior.cli.main import configure_logging
    from molprior.workflows import progress

    try:
        configure_logging(verbose=False, quiet=quiet)
        with caplog.at_level("INFO", logger="molprior.workflows.progress"):
            with progress.progress_bar("scoring", 10) as advance:
                advance(10)
    finally:
        progress.set_mode("bar")
    assert [r.getMessage().split(",")[0] for r in caplog.records] == expected


def _failing_check(error: Exception):
    def handler(args):
        raise error
    return handler


@pytest.mark.parametrize("error", [ValueError("operands could not be broadcast"), KeyError("head.net.3"),
                                   RuntimeError("size mismatch")])
def test_a_bug_exits_1_and_points_to_the_traceback(error, tmp_path, capsys, monkeypatch):
    """Only the user's mistakes exit 2; an exception molprior did not raise for the user is a
    bug: status 1, its type named, and -v shows the traceback."""
    from molprior.cli import data

    monkeypatch.setattr(data, "run_check", _failing_check(error))
    args = ["data", "check", "x.csv", "-o", str(tmp_path / "out")]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert f"internal error ({type(error).__name__})" in err and "-v" in err
    assert main(["-v", *args]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and f"{type(error).__name__}: " in err


def test_a_user_error_exits_2_and_shows_its_message(tmp_path, capsys, monkeypatch):
    from molprior.cli import data
    from molprior.errors import InputError

    monkeypatch.setattr(data, "run_check", _failing_check(InputError("no column 'smiles'")))
    assert main(["data", "check", "x.csv", "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err.strip() == "molprior data: error: no column 'smiles'"
    assert main(["-v", "data", "check", "x.csv", "-o", str(tmp_path / "out")]) == 2  # -v: the traceback too
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("molprior data: error: no column 'smiles'\n")
