"""molprior/__main__.py: ``python -m molprior`` is the ``molprior`` command, its exit status the
command's."""

from __future__ import annotations

import runpy
import subprocess
import sys

import pytest

import molprior


def test_console_script_runs():
    result = subprocess.run([sys.executable, "-m", "molprior", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith("molprior ")
    assert result.stdout == f"molprior {molprior.__version__}\n"


@pytest.mark.parametrize("argv, status, message", [
    (["data", "fetch", "tox22"], 1, "unknown dataset 'tox22'"),
    (["data", "check", "-o", "out"], 2, "needs an input: INPUT or -i/--input"),
    (["data", "fetch"], 2, "the following arguments are required: name"),  # argparse's own usage error
])
def test_the_commands_exit_status_is_the_processs(argv, status, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["molprior", *argv])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("molprior", run_name="__main__")
    assert exit_.value.code == status
    assert message in capsys.readouterr().err
