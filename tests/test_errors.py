"""molprior.errors: which failures are the user's to fix (exit status 2, the message alone) and
which are molprior's own bugs (exit status 1, the error's type named, -v for the traceback)."""

from __future__ import annotations

import pytest

from molprior.cli.main import EXIT_BUG, EXIT_USER_ERROR, is_user_error, main
from molprior.errors import InputError, MissingError, UserError

MESSAGE = "no column 'smiles' in assay.csv; its columns: 'smile', 'pIC50'"


def _raising(error: Exception):
    def handler(args):
        raise error
    return handler


@pytest.mark.parametrize("kind", [UserError, InputError, MissingError])
def test_a_user_error_exits_2_with_its_message_alone(kind, monkeypatch, capsys):
    from molprior.cli import data

    monkeypatch.setattr(data, "run_list", _raising(kind(MESSAGE)))
    assert is_user_error(kind(MESSAGE))
    assert main(["data", "list"]) == EXIT_USER_ERROR == 2
    captured = capsys.readouterr()
    assert captured.err == f"molprior data: error: {MESSAGE}\n" and captured.out == ""


def test_the_class_not_the_message_decides_a_bug_exits_1(monkeypatch, capsys):
    from molprior.cli import data

    monkeypatch.setattr(data, "run_list", _raising(ValueError(MESSAGE)))  # a ValueError, but not an InputError
    assert not is_user_error(ValueError(MESSAGE))
    assert main(["data", "list"]) == EXIT_BUG == 1
    assert capsys.readouterr().err == (f"molprior data: internal error (ValueError): {MESSAGE}\n"
                                       "this is a bug in molprior: run the command again with -v for the traceback "
                                       "and report it\n")


def test_input_and_missing_errors_are_also_the_builtin_errors_callers_catch():
    """Code that catches ValueError or FileNotFoundError (molprior's own, pandas' callers,
    a user's script) still catches them; neither is taken for the other."""
    with pytest.raises(ValueError, match="bad value"):
        raise InputError("bad value")
    with pytest.raises(FileNotFoundError, match="no such model"):
        raise MissingError("no such model")
    assert not issubclass(InputError, OSError) and not issubclass(MissingError, ValueError)
    assert not issubclass(UserError, (ValueError, OSError))  # the base says only: the user's to fix


def test_a_missing_error_from_a_real_command(tmp_path, capsys):
    """A directory that is not a molprior model is a MissingError: exit 2, the message names it."""
    (tmp_path / "not-a-model").mkdir()
    assert main(["peptides", "alleles", "--model", str(tmp_path / "not-a-model")]) == 2
    assert capsys.readouterr().err == (f"molprior peptides: error: {tmp_path / 'not-a-model'} holds no mhc.json: "
                                       "not a molprior MHC model\n")
