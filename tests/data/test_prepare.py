"""The one path into the schema (read -> standardise -> merge duplicates): what a prepared
table holds and sets aside, the assays in input order, FS-Mol's rows taken as they are, and
catalog datasets read by name."""

from __future__ import annotations

import pandas as pd
import pytest
from rdkit import Chem

from _realdata import DATA_DIR, MOLECULEACE_DIR, UNCLOSED_RING
from molprior.data import catalog
from molprior.data.prepare import prepare_table, read_input
from molprior.data.readers import InputSpec

#: Three real CHEMBL214_Ki molecules (MoleculeACE).
MOLECULES = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")["smiles"].head(3).tolist()
#: An FS-Mol training task with 20 molecules measured twice, and FS-Mol's first valid and test tasks.
FSMOL_TASKS = {"CHEMBL1020766": 42, "CHEMBL1243966": 201, "CHEMBL1006005": 187}


def _noncanonical(smiles: str) -> str:
    """The same molecule written another way (RDKit's SMILES from its last atom)."""
    mol = Chem.MolFromSmiles(smiles)
    other = Chem.MolToSmiles(mol, rootedAtAtom=mol.GetNumAtoms() - 1, canonical=False)
    assert other != smiles
    return other


@pytest.fixture
def wide_file(tmp_path):
    """A wide file whose columns are not in alphabetical order, with a molecule measured twice
    (once spelled differently), a bad SMILES, a bad value and an empty SMILES."""
    a, b, c = MOLECULES
    lines = ["smiles,CHEMBL214_Ki,CHEMBL2047_EC50",  # 1
             f"{a},7.1,5.0",                         # 2
             f"{b},,5.2",                            # 3
             f"{UNCLOSED_RING},6.0,",                # 4  unparseable: rejected when standardised
             f"{c},abc,6.5",                         # 5  bad CHEMBL214_Ki cell: rejected when read, 6.5 kept
             f"{_noncanonical(a)},7.3,",             # 6  molecule of line 2 again: merged with it
             ",5,"]                                  # 7  empty SMILES
    path = tmp_path / "wide.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_prepared_table_holds_the_standardised_merged_measurements_and_what_was_set_aside(wide_file):
    told = []
    prepared = prepare_table(wide_file, on_read=lambda n: told.append(("inputs", n)),
                             progress=lambda n: told.append(("standardised", n)))
    assert prepared.format == "wide" and prepared.measurements_read == 7  # cells with a number, as read
    # the distinct inputs are announced before standardisation starts, then counted off
    assert told == [("inputs", 6), ("standardised", 6)]
    table = prepared.table
    assert table[["line", "smiles", "assay", "value"]].values.tolist() == [
        [2, MOLECULES[0], "CHEMBL2047_EC50", 5.0],
        [2, MOLECULES[0], "CHEMBL214_Ki", pytest.approx(7.2)],  # lines 2 and 6: the mean
        [3, MOLECULES[1], "CHEMBL2047_EC50", 5.2],
        [5, MOLECULES[2], "CHEMBL2047_EC50", 6.5],
    ]
    assert set(table["notes"]) == {""}
    assert prepared.rejected.values.tolist() == [  # read and standardisation problems together, by line
        [4, UNCLOSED_RING, "smiles", "unparseable SMILES (syntax error)"],
        [5, MOLECULES[2], "CHEMBL214_Ki", "non-numeric value 'abc'"],
        [7, "", "smiles", "empty SMILES"],
    ]
    report = prepared.duplicates
    assert report[["smiles", "assay", "n_measurements", "lines", "values", "action"]].values.tolist() == [
        [MOLECULES[0], "CHEMBL214_Ki", 2, "2;6", "7.1;7.3", "mean"]]


def test_assays_are_in_the_input_order_whatever_the_tables_order(wide_file):
    prepared = prepare_table(wide_file)
    # the table lists a line's assays alphabetically; a wide file's assays are its columns' order
    assert list(dict.fromkeys(prepared.table["assay"])) == ["CHEMBL2047_EC50", "CHEMBL214_Ki"]
    assert prepared.input_assays == ("CHEMBL214_Ki", "CHEMBL2047_EC50")
    assert prepared.assays == ["CHEMBL214_Ki", "CHEMBL2047_EC50"]
    assert prepared.assay_groups == {}  # only FS-Mol names groups of assays


def test_an_assay_left_without_measurements_is_not_listed(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text(f"smiles,first,second\n{UNCLOSED_RING},1.0,2.0\n{MOLECULES[0]},,3.0\n")
    prepared = prepare_table(path)
    assert prepared.input_assays == ("first", "second") and prepared.assays == ["second"]


def test_the_input_spec_chooses_the_columns_of_a_long_file(tmp_path):
    path = tmp_path / "long.csv"
    pd.DataFrame({"compound": ["aspirin", "caffeine"], "structure": MOLECULES[:2], "target": ["T1", "T2"],
                  "pKi": [6.0, 7.0], "note": ["x", "y"]}).to_csv(path, index=False)
    spec = InputSpec(format="long", smiles_column="structure", assay_column="target", value_column="pKi")
    prepared = prepare_table(path, spec)
    assert prepared.format == "long" and prepared.assays == ["T1", "T2"]
    assert prepared.table["smiles"].tolist() == MOLECULES[:2] and prepared.table["value"].tolist() == [6.0, 7.0]
    assert prepared.identifiers == ("compound", "note")  # carried along, not measurements
    assert prepared.table["compound"].tolist() == ["aspirin", "caffeine"]


@pytest.fixture(scope="module")
def fsmol_file(tmp_path_factory):
    """Three real FS-Mol tasks (one of each split) in FS-Mol's long layout."""
    table = pd.read_csv(DATA_DIR / "fsmol" / "fsmol.csv.gz", keep_default_na=False)
    path = tmp_path_factory.mktemp("fsmol") / "fsmol_subset.csv"
    table[table["assay"].isin(FSMOL_TASKS)].to_csv(path, index=False)
    return path


def test_fsmols_rows_are_taken_as_they_are(fsmol_file):
    told = []
    prepared = prepare_table(fsmol_file, on_read=told.append)
    assert prepared.format == "fsmol" and told == []  # nothing to standardise
    table = prepared.table
    assert len(table) == prepared.measurements_read == sum(FSMOL_TASKS.values())
    assert table.groupby("assay", sort=False).size().to_dict() == FSMOL_TASKS  # not merged
    repeated = table[table["assay"] == "CHEMBL1020766"]
    assert repeated["smiles"].duplicated().sum() == 20  # 20 molecules FS-Mol has twice: both rows kept
    assert prepared.duplicates.empty and list(prepared.duplicates.columns) == [
        "smiles", "assay", "n_measurements", "lines", "values", "relations", "action", "conflict"]
    assert prepared.rejected.empty and list(prepared.rejected.columns) == ["line", "input", "column", "reason"]
    assert (table["smiles"] == table["input"])[table["notes"] == ""].all()
    assert prepared.assays == list(FSMOL_TASKS)
    assert prepared.assay_groups == {"split:train": ["CHEMBL1020766"], "split:valid": ["CHEMBL1243966"],
                                     "split:test": ["CHEMBL1006005"]}


def test_a_catalog_dataset_is_read_by_name_from_its_embedded_copy():
    result, kind = read_input("dataset:moleculeace")
    assert kind == "moleculeace"
    table = result.table
    assert table["assay"].nunique() == 30 and len(table) == 48_714
    expected = pd.read_csv(MOLECULEACE_DIR / "CHEMBL214_Ki.csv")
    chembl214 = table[table["assay"] == "CHEMBL214_Ki"]
    assert chembl214["input"].tolist() == expected["smiles"].tolist()
    assert chembl214["value"].to_numpy() == pytest.approx(expected["y"].to_numpy() + 9.0)


def test_a_catalog_dataset_without_an_embedded_copy_is_fetched(tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.DATA_DIR_ENV, str(tmp_path / "no-data"))  # an installation without data/
    monkeypatch.setenv(catalog.MIRROR_ENV, str(tmp_path / "mirror"))  # offline: no network is tried
    with pytest.raises(catalog.DatasetError, match="has no file 'MoleculeACE-3.0.0-py3-none-any.whl'"):
        read_input("dataset:moleculeace")


def test_datasets_that_cannot_be_read_are_named():
    with pytest.raises(catalog.DatasetError, match="can be fetched .* but not read as a table"):
        read_input("dataset:fsmol_targets")
    with pytest.raises(catalog.DatasetError, match="unknown dataset 'chembl99'"):
        prepare_table("dataset:chembl99")
