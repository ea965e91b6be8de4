"""FS-Mol's two layouts, the embedded copy and its task metadata."""

from __future__ import annotations

import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from molprior.data import catalog, fsmol
from molprior.data.prepare import prepare_table
from molprior.data.readers import read_table, sniff_format
from molprior.files import file_hash

from _realdata import DATA_DIR

ORIGINAL = Path(__file__).parent / "fsmol_original"
EMBEDDED = DATA_DIR / "fsmol" / fsmol.MEASUREMENTS_FILE
FIXTURE_TASKS = ["CHEMBL890277", "CHEMBL905129", "CHEMBL3705880", "CHEMBL1066254"]


@pytest.fixture(scope="module")
def embedded() -> pd.DataFrame:
    return fsmol.read_long_table(EMBEDDED)


def _same_rows(ours: pd.DataFrame, theirs: pd.DataFrame) -> None:
    assert list(ours["smiles"]) == list(theirs["smiles"])
    assert list(ours["split"]) == list(theirs["split"])
    np.testing.assert_array_equal(ours["label"].to_numpy(), theirs["label"].to_numpy())
    assert list(ours["relation"]) == list(theirs["relation"])
    # the embedded copy keeps pXC50 to 6 significant digits
    np.testing.assert_allclose(ours["value"].to_numpy(), theirs["value"].to_numpy(), rtol=1e-5, equal_nan=True)


def test_official_layout_reads_the_same_rows_as_the_embedded_copy(embedded):
    tasks = fsmol.read_task_files(ORIGINAL)
    assert list(dict.fromkeys(tasks["assay"])) == FIXTURE_TASKS  # splits in FS-Mol's order, then by name
    assert tasks.groupby("assay", sort=False).size().tolist() == [42, 51, 148, 141]
    assert set(tasks["assay_type"]) <= {"B", "F", "A", "T"}
    for assay in FIXTURE_TASKS:
        _same_rows(tasks[tasks["assay"] == assay], embedded[embedded["assay"] == assay])


def test_the_figshare_tar_reads_like_the_directory(tmp_path):
    archive = tmp_path / "fsmol.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(ORIGINAL, arcname="fs-mol")
    pd.testing.assert_frame_equal(fsmol.read_task_files(archive), fsmol.read_task_files(ORIGINAL))
    assert sniff_format(archive) == "fsmol"


def test_a_folder_without_tasks_is_a_clear_error(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(fsmol.FsMolError, match="no FS-Mol task files"):
        fsmol.read_task_files(tmp_path)


def test_the_embedded_copy_is_fsmol_whole_and_checksummed(embedded):
    sums = dict(reversed(line.split("  ", 1)) for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines())
    for name in (fsmol.MEASUREMENTS_FILE, fsmol.TASKS_FILE):
        assert file_hash(DATA_DIR / "fsmol" / name) == sums[f"fsmol/{name}"]
    assert len(embedded) == 482_933
    assert embedded.groupby("split")["assay"].nunique().to_dict() == {"test": 157, "train": 4935, "valid": 39}
    assert set(embedded["label"].unique()) == {0.0, 1.0}


def test_task_metadata_is_joined(embedded):
    tasks = fsmol.read_tasks(DATA_DIR / "fsmol" / fsmol.TASKS_FILE)
    assert list(tasks.columns) == list(fsmol.TASK_COLUMNS)
    assert list(tasks["assay"]) == list(dict.fromkeys(embedded["assay"]))
    test = tasks[tasks["split"] == "test"]
    assert (test["protein_class"] != "unknown").all() and (test["target_name"] != "").all()
    assert test["protein_class"].value_counts().index[0] == "kinase"  # most of FS-Mol's test tasks
    sizes = embedded.groupby("assay").size()
    assert (tasks.set_index("assay")["n_molecules"].astype(int) == sizes.reindex(tasks["assay"])).all()


def test_every_test_task_is_described_from_its_target_metadata(embedded):
    tasks = fsmol.read_tasks(DATA_DIR / "fsmol" / fsmol.TASKS_FILE).set_index("assay")
    test = tasks[tasks["split"] == "test"]
    descriptions = [fsmol.task_description(row) for row in test.to_dict("records")]
    assert all(descriptions)
    assert descriptions[2] == "Acetylcholinesterase; EC 3.1.1.7; Hydrolase; enzyme > hydrolase; binding assay"
    # a task whose metadata names no target is not described (its assay type alone says nothing)
    unnamed = tasks[(tasks["target_name"] == "") & (tasks["ec_name"] == "") & (tasks["protein_class_desc"] == "")]
    assert len(unnamed) and fsmol.task_description(unnamed.iloc[0].to_dict()) == ""


def test_a_target_of_several_components_is_listed_and_levels_are_marked():
    assert fsmol.listed("('2.7.11.1', '2.7.12.2')") == "2.7.11.1; 2.7.12.2"
    assert fsmol.listed("enzyme  kinase  protein kinase  tk  abl") == "enzyme > kinase > protein kinase > tk > abl"
    assert fsmol.listed("(unclosed") == "(unclosed" and fsmol.listed("") == ""


@pytest.mark.parametrize("super_family, ec_name, expected", [
    ("kinase", "transferase", "kinase"), ("protease", "hydrolase", "hydrolase"), ("nuclear", "", "nuclear"),
    ("", "", "unknown")])
def test_protein_class(super_family, ec_name, expected):
    assert fsmol.protein_class(super_family, ec_name) == expected


def test_dataset_fsmol_reads_the_embedded_copy_as_fsmol_gives_it():
    assert catalog.embedded_copy(catalog.get("fsmol")) == EMBEDDED
    prepared = prepare_table("dataset:fsmol")
    assert prepared.format == "fsmol" and len(prepared.table) == 482_933 and prepared.rejected.empty
    table = prepared.table
    noted = table["notes"] != ""
    assert (table["smiles"] == table["input"])[~noted].all()  # FS-Mol's molecules, not standardised again
    assert noted.sum() == 2208 and table.loc[noted, "notes"].str.contains("P-OH tautomer").all()
    assert {len(v) for v in prepared.assay_groups.values()} == {157, 4935, 39}
    task = table[table["assay"] == "CHEMBL1066254"]
    assert len(task) == 141 and task["protein_class"].iloc[0] == "transferase"
    # ChEMBL's ">" on a concentration is "<" on the pXC50 scale
    raw = fsmol.read_long_table(EMBEDDED)
    assert ((raw["relation"] == ">").to_numpy() <= (table["relation"] == "<").to_numpy()).all()


def test_a_task_directory_is_read_through_the_common_reader():
    result = read_table(ORIGINAL)
    assert result.curated and set(result.table["unit"]) == {"pXC50"}
    assert list(result.assays) == FIXTURE_TASKS
    assert sniff_format(ORIGINAL) == "fsmol" and sniff_format(EMBEDDED) == "fsmol"


def test_both_layouts_build_the_same_embedded_bytes(tmp_path, embedded):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_data", DATA_DIR / "build_data.py")
    build_data = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_data)
    tasks = fsmol.read_tasks(DATA_DIR / "fsmol" / fsmol.TASKS_FILE)
    targets = tmp_path / "target_info.csv"  # FS-Mol's column names, from the embedded task table
    tasks[tasks["assay"].isin(FIXTURE_TASKS)].rename(columns={
        "assay": "chembl_id", "target_name": "pref_name", "organism": "assay_organism",
        "protein_super_family": "protein_super_family", "ec_class": "EC_super_class",
        "ec_class_name": "EC_super_class_name"}).to_csv(targets, index=False)
    long = tmp_path / "long.csv"
    subset = embedded[embedded["assay"].isin(FIXTURE_TASKS)]
    blocks = [rows for _, rows in subset.groupby("assay", sort=False)]
    pd.concat(blocks[::-1]).to_csv(long, index=False)  # tasks in any order, each task's rows in FS-Mol's
    from_tasks = build_data.build_fsmol(tmp_path / "a", ORIGINAL, targets)
    from_long = build_data.build_fsmol(tmp_path / "b", long, targets)
    for a, b in zip(from_tasks, from_long):
        assert a.read_bytes() == b.read_bytes()
    built = fsmol.read_tasks(from_tasks[1]).set_index("assay")
    assert built.loc["CHEMBL1066254", "protein_class"] == "transferase"


def test_fsmols_phosphorus_hydrides_are_read_as_the_acids_they_are():
    from rdkit import Chem

    adefovir = fsmol.phosphorus_hydride_repaired("Nc1ncnc2c1ncn2CCOC[PH](=O)(=O)O")
    assert adefovir == Chem.MolToSmiles(Chem.MolFromSmiles("Nc1ncnc2c1ncn2CCOCP(=O)(O)O"))
    bisphosphonate = fsmol.phosphorus_hydride_repaired("O=[PH](=O)(O)C(O)(Cn1ccnc1)[PH](=O)(=O)O")
    assert bisphosphonate == Chem.MolToSmiles(Chem.MolFromSmiles("OP(=O)(O)C(O)(Cn1ccnc1)P(=O)(O)O"))  # zoledronate
    assert fsmol.phosphorus_hydride_repaired("CCO") is None
    assert fsmol.phosphorus_hydride_repaired("C[PH](=O)C") is None  # a phosphine oxide RDKit reads: left alone
