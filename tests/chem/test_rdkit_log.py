"""RDKit's log: off inside molprior's calls, as the caller set it everywhere else."""

import subprocess
import sys

import pytest
from rdkit import Chem, rdBase

from molprior.chem.rdkit_log import log_levels, quiet_rdkit
from molprior.chem.standardize import standardize_smiles


@pytest.fixture
def rdkit_log_restored():
    before = log_levels()
    yield
    for name, enabled in before.items():
        (rdBase.EnableLog if enabled else rdBase.DisableLog)(name)


def test_importing_molprior_leaves_the_rdkit_log_as_it_was():
    code = ("from rdkit import rdBase; before = rdBase.LogStatus(); import molprior.cli.main, molprior.workflows.pipeline, "
            "molprior.metrics.generation, molprior.data.corpus; print(before == rdBase.LogStatus())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


def test_off_inside_and_restored_after(rdkit_log_restored):
    rdBase.EnableLog("rdApp.info")
    before = log_levels()
    assert before["rdApp.error"] and before["rdApp.info"]
    with quiet_rdkit():
        assert not any(log_levels().values())
        with quiet_rdkit():
            pass
        assert not any(log_levels().values())  # an inner block does not turn it back on
    assert log_levels() == before


def test_restored_after_an_exception(rdkit_log_restored):
    before = log_levels()
    with pytest.raises(KeyError):
        with quiet_rdkit():
            raise KeyError("x")
    assert log_levels() == before


def test_molprior_calls_are_silent_while_rdkit_itself_still_reports(capfd, rdkit_log_restored):
    rdBase.EnableLog("rdApp.error")
    Chem.MolFromSmiles("C1CC")
    assert "SMILES Parse Error" in capfd.readouterr().err  # the caller's RDKit log is on
    result = standardize_smiles("C1CC")
    assert not result.ok and "parse" in result.reason.lower()
    assert capfd.readouterr().err == ""
