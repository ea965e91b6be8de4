"""Reading a job's assay input: the configured file read with its options and standardised
(with progress over its distinct molecules), and the one line that sums it up."""

from __future__ import annotations

import pandas as pd
import pytest

from _realdata import MOLECULEACE_DIR, UNCLOSED_RING
from molprior.config import InputConfig
from molprior.data.prepare import prepare_table
from molprior.workflows import progress
from molprior.workflows.inputs import prepare


@pytest.fixture
def mode():
    yield progress.set_mode
    progress.set_mode("bar")


@pytest.fixture
def assay_file(tmp_path):
    """30 real CHEMBL214_Ki molecules and 20 of CHEMBL2047_EC50 (10 of them both) in a wide
    file with its own column names, and one line with a bad SMILES and a bad value."""
    a = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv").head(30)
    b = pd.read_csv(MOLECULEACE_DIR / "CHEMBL2047_EC50.csv").head(10)
    frame = pd.DataFrame({"structure": list(a["smiles"]) + list(b["smiles"]) + [UNCLOSED_RING],
                          "D2": list(a["y"] + 9) + [None] * 10 + ["high"],
                          "FXR": [None] * 20 + list(a["y"][20:] + 9) + list(b["y"] + 9) + [5.0]})
    path = tmp_path / "assays.csv"
    frame.to_csv(path, index=False)
    return path


def test_the_input_is_read_with_its_options_and_summed_up(assay_file, mode, caplog):
    mode("off")
    config = InputConfig(input=str(assay_file), format="wide", smiles_column="structure", target_columns=["D2", "FXR"])
    with caplog.at_level("INFO", logger="molprior.workflows"):
        prepared = prepare(config, jobs=1)
    expected = prepare_table(assay_file, config.spec)
    pd.testing.assert_frame_equal(prepared.table, expected.table)
    pd.testing.assert_frame_equal(prepared.rejected, expected.rejected)
    assert prepared.assays == ["D2", "FXR"] and len(prepared.table) == 50
    # the last line is rejected twice (its SMILES, its D2 value): one line
    assert prepared.rejected["line"].tolist() == [42, 42]
    assert [r.getMessage() for r in caplog.records] == [
        "50 measurements of 40 molecules in 2 assays; 1 input lines rejected"]


def test_standardising_reports_progress_over_the_distinct_molecules(assay_file, mode, caplog):
    mode("log")
    with caplog.at_level("INFO", logger="molprior.workflows.progress"):
        prepare(InputConfig(input=str(assay_file), smiles_column="structure"), jobs=1)
    # the total is known once the file is read: 41 distinct inputs, the bad SMILES among them
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["standardising: 41 of 41 (100%)"]


def test_an_input_without_rejects_says_so(tmp_path, mode, caplog):
    mode("off")
    path = tmp_path / "clean.csv"
    pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv").head(5)[["smiles", "y"]].to_csv(path, index=False)
    with caplog.at_level("INFO", logger="molprior.workflows.inputs"):
        prepared = prepare(InputConfig(input=str(path)), jobs=1)
    assert prepared.rejected.empty
    assert caplog.records[-1].getMessage() == "5 measurements of 5 molecules in 1 assays; 0 input lines rejected"
