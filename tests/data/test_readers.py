"""Readers: every supported file format into the assay schema, with every bad row reported."""

from __future__ import annotations

import csv
import gzip
import math
import shutil

import numpy as np
import pandas as pd
import pytest

from _realdata import (
    ASPIRIN,
    BENZENE,
    CAFFEINE,
    ETHANOL,
    IBUPROFEN,
    METFORMIN,
    MHC_FILE,
    MOLECULEACE_DIR,
    MOSES_FILE,
    PARACETAMOL,
    SALICYLIC_ACID,
    file_lines,
    mhc_rows,
    moleculeace_head,
    write_text,
)
from molprior.data import readers
from molprior.data.curation import standardize_table
from molprior.data.schema import COLUMNS, validate
from molprior.errors import InputError


def rows(table: pd.DataFrame, *columns: str) -> list[tuple]:
    return [tuple(r) for r in table[list(columns)].itertuples(index=False)]


def problem_rows(result) -> list[tuple]:
    return sorted(rows(result.problems, "line", "input", "column", "reason"))


def assert_lines_match_file(path, table: pd.DataFrame) -> None:
    """Every row's ``line`` is the file line (header = 1) that holds its input."""
    lines = file_lines(path)
    for line, text in zip(table["line"], table["input"]):
        assert 1 <= line <= len(lines)
        assert text and text in lines[line - 1], (line, text, lines[line - 1])


# --------------------------------------------------------------------------- wide files

WIDE = (
    "SMILES,NR-AR,NR-AhR,SR-p53\n"
    f"{ETHANOL},0,1,\n"                 # 2: SR-p53 blank = unmeasured
    f"{ASPIRIN},,nan,1\n"               # 3: explicit nan = unmeasured
    f"{CAFFEINE},,,\n"                  # 4: no measurement at all
    "\n"                                # 5: empty line
    f"{PARACETAMOL},abc,0,0\n"          # 6: non-numeric NR-AR, others kept
    f"{IBUPROFEN},1,NaN,0\n"            # 7
    f"{BENZENE},,,active\n"             # 8: only a non-numeric cell
)


@pytest.fixture
def wide_file(tmp_path):
    return write_text(tmp_path / "tox21_small.csv", WIDE)


def test_wide_reads_measured_cells_and_skips_blanks_and_nan(wide_file):
    result = readers.read_wide(wide_file)
    validate(result.table)
    assert rows(result.table, "line", "input", "assay", "value") == [
        (2, ETHANOL, "NR-AR", 0.0),
        (2, ETHANOL, "NR-AhR", 1.0),
        (3, ASPIRIN, "SR-p53", 1.0),
        (6, PARACETAMOL, "NR-AhR", 0.0),
        (6, PARACETAMOL, "SR-p53", 0.0),
        (7, IBUPROFEN, "NR-AR", 1.0),
        (7, IBUPROFEN, "SR-p53", 0.0),
    ]
    assert set(result.table["relation"]) == {"="}
    assert set(result.table["source"]) == {"tox21_small.csv"}
    assert set(result.table["input_type"]) == {"smiles"}
    # binary columns: the label is the value
    assert result.table["label"].tolist() == result.table["value"].tolist()


def test_wide_reports_bad_cells_empty_lines_and_unmeasured_rows_with_their_lines(wide_file):
    result = readers.read_wide(wide_file)
    assert problem_rows(result) == [
        (4, CAFFEINE, "", "no measurement in any target column"),
        (5, "", "", "empty line"),
        (6, PARACETAMOL, "NR-AR", "non-numeric value 'abc'"),
        (8, BENZENE, "SR-p53", "non-numeric value 'active'"),
    ]


def test_wide_line_numbers_are_file_line_numbers(wide_file):
    result = readers.read_wide(wide_file)
    assert_lines_match_file(wide_file, result.table)
    named = result.problems[result.problems["input"] != ""]
    assert_lines_match_file(wide_file, named)
    assert file_lines(wide_file)[5 - 1] == ""  # the reported empty line is empty


def test_wide_target_columns_subset(tmp_path):
    # MoleculeNet files carry id columns; --target-columns picks the assays.
    path = write_text(tmp_path / "tox.csv",
                      "mol_id,smiles,NR-AR,SR-p53\n"
                      f"TOX3021,{ASPIRIN},1,0\n"
                      f"TOX3022,{CAFFEINE},,1\n"
                      f"TOX3023,{ETHANOL},0,\n")
    result = readers.read_wide(path, target_columns=["NR-AR"])
    assert rows(result.table, "line", "input", "assay", "value") == [
        (2, ASPIRIN, "NR-AR", 1.0),
        (4, ETHANOL, "NR-AR", 0.0),
    ]
    # the id column is not a target, so its text is not reported; caffeine has no NR-AR value
    assert problem_rows(result) == [(3, CAFFEINE, "", "no measurement in any target column")]
    assert result.table["mol_id"].tolist() == ["TOX3021", "TOX3023"]  # carried along, not a target
    everything = readers.read_wide(path)
    assert set(everything.table["assay"]) == {"NR-AR", "SR-p53"}
    # the id column holds text, not measurements: carried along, never one rejection per row
    assert everything.problems.empty and everything.identifiers == ("mol_id",)
    assert rows(everything.table, "line", "mol_id", "assay") == [
        (2, "TOX3021", "NR-AR"), (2, "TOX3021", "SR-p53"), (3, "TOX3022", "SR-p53"), (4, "TOX3023", "NR-AR")]


@pytest.mark.parametrize("header", ["SMILES", "Smiles", "canonical_smiles", "Molecule"])
def test_wide_finds_the_smiles_column_case_insensitively(tmp_path, header):
    path = write_text(tmp_path / "f.csv", f"{header},logS\n{ASPIRIN},-1.72\n{CAFFEINE},-0.87\n")
    result = readers.read_wide(path)
    assert rows(result.table, "input", "assay", "value") == [(ASPIRIN, "logS", -1.72), (CAFFEINE, "logS", -0.87)]


def test_wide_named_smiles_column_matches_case_insensitively(tmp_path):
    path = write_text(tmp_path / "f.csv", f"Drug,SMILES,logS\nx,{ASPIRIN},-1.72\n")
    result = readers.read_wide(path, smiles_column="smiles", target_columns=["LOGS"])
    assert rows(result.table, "input", "assay", "value") == [(ASPIRIN, "logS", -1.72)]


def test_wide_missing_smiles_column_lists_the_columns(tmp_path):
    path = write_text(tmp_path / "f.csv", f"compound,NR-AR\n{ASPIRIN},1\n")
    with pytest.raises(InputError) as error:
        readers.read_wide(path)
    message = str(error.value)
    assert "'compound'" in message and "'NR-AR'" in message
    assert "--smiles-column" in message


def test_wide_misnamed_smiles_column_suggests_the_close_name(tmp_path):
    path = write_text(tmp_path / "f.csv", f"smiles,NR-AR\n{ASPIRIN},1\n")
    with pytest.raises(InputError) as error:
        readers.read_wide(path, smiles_column="smils")
    message = str(error.value)
    assert "'smils'" in message
    assert "'smiles', 'NR-AR'" in message
    assert "Did you mean 'smiles'?" in message


def test_wide_misnamed_target_column_suggests_the_close_name(tmp_path):
    path = write_text(tmp_path / "f.csv", f"smiles,NR-AR,SR-p53\n{ASPIRIN},1,0\n")
    with pytest.raises(InputError) as error:
        readers.read_wide(path, target_columns=["NR_AR"])
    message = str(error.value)
    assert "'NR_AR'" in message and "'SR-p53'" in message
    assert "Did you mean 'NR-AR'" in message


def test_wide_with_only_a_smiles_column_raises(tmp_path):
    path = write_text(tmp_path / "f.csv", f"smiles\n{ASPIRIN}\n")
    with pytest.raises(InputError, match="no target columns"):
        readers.read_wide(path)


def test_missing_file_directory_and_empty_file_raise_input_error(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        readers.read_wide(tmp_path / "absent.csv")
    with pytest.raises(InputError, match="directory"):
        readers.read_wide(tmp_path)
    empty = write_text(tmp_path / "empty.csv", "")
    with pytest.raises(InputError, match="empty"):
        readers.read_wide(empty)


def test_wide_regression_labels_are_median_split(tmp_path):
    # ESOL-style regression column, no unit: higher is "active"
    path = write_text(tmp_path / "esol.csv",
                      f"smiles,logS\n{ASPIRIN},-1.72\n{CAFFEINE},-0.87\n{BENZENE},-1.64\n{IBUPROFEN},-3.97\n")
    table = readers.read_wide(path).table
    assert dict(zip(table["input"], table["label"])) == {ASPIRIN: 0.0, CAFFEINE: 1.0, BENZENE: 1.0, IBUPROFEN: 0.0}


def test_tsv_file_is_read_with_tabs(tmp_path):
    path = write_text(tmp_path / "f.tsv", f"smiles\tNR-AR\n{ASPIRIN}\t1\n{CAFFEINE}\t0\n")
    assert rows(readers.read_wide(path).table, "line", "input", "value") == [(2, ASPIRIN, 1.0), (3, CAFFEINE, 0.0)]


# --------------------------------------------------------------------------- malformed lines and encodings

def test_malformed_line_with_too_many_fields_is_reported_not_a_crash(tmp_path):
    path = write_text(tmp_path / "f.csv",
                      f"smiles,NR-AR\n{ASPIRIN},1\n{CAFFEINE},0\nCC(C)Cc1ccc(cc1)C(C)C(O)=O,1,extra\n{ETHANOL},0\n")
    result = readers.read_wide(path)
    malformed = result.problems[result.problems["reason"].str.contains("malformed")]
    assert len(malformed) == 1
    assert "extra" in malformed["input"].iat[0]
    assert "3 fields" in malformed["reason"].iat[0]
    # the good rows are all read
    assert rows(result.table, "input", "value") == [(ASPIRIN, 1.0), (CAFFEINE, 0.0), (ETHANOL, 0.0)]


def test_non_utf8_smiles_survives_reading_and_is_rejected_by_curation(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes(b"smiles,NR-AR\n" + ASPIRIN.encode() + b",1\nCC\xff\xfeO,0\n" + CAFFEINE.encode() + b",1\n")
    result = readers.read_wide(path)
    assert result.problems.empty
    assert result.table["line"].tolist() == [2, 3, 4]
    bad = result.table[result.table["line"] == 3]
    assert "\ufffd" in bad["input"].iat[0]
    kept, problems = standardize_table(result.table)
    assert kept["line"].tolist() == [2, 4]
    assert problems["line"].tolist() == [3]
    assert "UTF-8" in problems["reason"].iat[0]


def test_non_utf8_value_cell_is_reported(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"smiles,NR-AR\n" + ASPIRIN.encode() + b",1\xff\n" + CAFFEINE.encode() + b",0\n")
    result = readers.read_wide(path)
    assert rows(result.table, "line", "input") == [(3, CAFFEINE)]
    assert problem_rows(result) == [(2, ASPIRIN, "NR-AR", "invalid UTF-8 bytes in value")]


def test_non_utf8_bytes_in_long_and_smiles_files_survive(tmp_path):
    long = tmp_path / "long.csv"
    long.write_bytes(b"smiles,assay,value\nCC\xff\xfeO,CHEMBL204_Ki,5\n" + ASPIRIN.encode() + b",CHEMBL204_Ki,7\n")
    smi = tmp_path / "list.smi"
    smi.write_bytes(b"CC\xff\xfeO bad\n" + ASPIRIN.encode() + b" aspirin\n")
    for result, line in ((readers.read_long(long), 2), (readers.read_smiles_list(smi), 1)):
        assert len(result.table) == 2
        kept, problems = standardize_table(result.table)
        assert kept["input"].tolist() == [ASPIRIN]
        assert problems["line"].tolist() == [line]
        assert "UTF-8" in problems["reason"].iat[0]


# --------------------------------------------------------------------------- parse_values

@pytest.mark.parametrize(
    "cell, value, relation",
    [
        ("7.5", 7.5, "="),
        (" 12 ", 12.0, "="),
        ("-3e-2", -0.03, "="),
        ("<10", 10.0, "<"),
        ("> 1e4", 1e4, ">"),
        (">1E4", 1e4, ">"),
        ("<= 5", 5.0, "<"),
        (">=50", 50.0, ">"),
        ("~3", 3.0, "="),
        ("=4.2", 4.2, "="),
        (".5", 0.5, "="),
    ],
)
def test_parse_values_numbers_and_censored(cell, value, relation):
    values, relations, reasons = readers.parse_values(pd.Series([cell]))
    assert values[0] == pytest.approx(value)
    assert relations[0] == relation
    assert reasons[0] is None


@pytest.mark.parametrize("cell", ["", "nan", "NaN", "NA", "n/a", "None", "null", "  "])
def test_parse_values_missing(cell):
    values, _, reasons = readers.parse_values(pd.Series([cell]))
    assert math.isnan(values[0])
    assert reasons[0] == "missing"


@pytest.mark.parametrize("cell, reason", [("abc", "non-numeric value 'abc'"), ("10 nM", "non-numeric value '10 nM'"),
                                          ("<<5", "non-numeric value '<<5'"), ("inf", "non-finite value"),
                                          ("-inf", "non-finite value")])
def test_parse_values_unreadable(cell, reason):
    values, _, reasons = readers.parse_values(pd.Series([cell]))
    assert math.isnan(values[0])
    assert reasons[0] == reason


# --------------------------------------------------------------------------- long files

LONG = (
    "smiles,assay,value\n"
    f"{ASPIRIN},CHEMBL204_Ki,<10\n"        # 2
    f"{CAFFEINE},CHEMBL204_Ki,>1e4\n"      # 3
    f"{PARACETAMOL},CHEMBL204_Ki,250\n"    # 4
    f"{IBUPROFEN},CHEMBL204_Ki,1250.5\n"   # 5
    f"{ETHANOL},,30\n"                     # 6: missing assay
    f"{BENZENE},CHEMBL214_Ki,\n"           # 7: missing value
    f"{METFORMIN},CHEMBL214_Ki,potent\n"   # 8: non-numeric
    "\n"                                   # 9: empty line
    f"{SALICYLIC_ACID},CHEMBL214_Ki,<= 5\n"  # 10
)


def test_long_reads_censored_values_into_relation(tmp_path):
    path = write_text(tmp_path / "long.csv", LONG)
    result = readers.read_long(path)
    validate(result.table)
    assert rows(result.table, "line", "input", "assay", "value", "relation") == [
        (2, ASPIRIN, "CHEMBL204_Ki", 10.0, "<"),
        (3, CAFFEINE, "CHEMBL204_Ki", 1e4, ">"),
        (4, PARACETAMOL, "CHEMBL204_Ki", 250.0, "="),
        (5, IBUPROFEN, "CHEMBL204_Ki", 1250.5, "="),
        (10, SALICYLIC_ACID, "CHEMBL214_Ki", 5.0, "<"),
    ]
    assert_lines_match_file(path, result.table)


def test_long_reports_missing_assay_missing_value_bad_value_and_empty_line(tmp_path):
    path = write_text(tmp_path / "long.csv", LONG)
    result = readers.read_long(path)
    assert problem_rows(result) == [
        (6, ETHANOL, "assay", "missing assay"),
        (7, BENZENE, "value", "missing value"),
        (8, METFORMIN, "value", "non-numeric value 'potent'"),
        (9, "", "", "empty line"),
    ]


def test_long_relation_and_unit_columns(tmp_path):
    path = write_text(tmp_path / "long.csv",
                      "smiles,assay,value,relation,unit\n"
                      f"{ASPIRIN},CHEMBL204,10,<,nM\n"
                      f"{CAFFEINE},CHEMBL204,10000,>,nM\n"
                      f"{PARACETAMOL},CHEMBL204,250,=,nM\n"
                      f"{IBUPROFEN},CHEMBL204,1250,,nM\n"
                      f"{ETHANOL},CHEMBL204,300,>=,nM\n"
                      f"{BENZENE},CHEMBL204,40,about,nM\n")
    result = readers.read_long(path)
    validate(result.table)
    assert rows(result.table, "line", "value", "relation", "unit") == [
        (2, 10.0, "<", "nM"),
        (3, 1e4, ">", "nM"),
        (4, 250.0, "=", "nM"),
        (5, 1250.0, "=", "nM"),
        (6, 300.0, ">", "nM"),
    ]
    assert problem_rows(result) == [(7, BENZENE, "value", "unknown relation 'about' (expected =, < or >)")]
    # nM: lower is active; threshold = median of the exact values (750 nM)
    labels = result.table["label"].tolist()
    assert labels[:4] == [1.0, 0.0, 1.0, 0.0]
    assert math.isnan(labels[4])  # '> 300' does not decide the side of 750


def test_long_custom_column_names(tmp_path):
    path = write_text(tmp_path / "chembl.csv",
                      "canonical_smiles,target_chembl_id,pchembl_value\n"
                      f"{ASPIRIN},CHEMBL204,6.1\n{CAFFEINE},CHEMBL204,7.3\n")
    result = readers.read_long(path, assay_column="target_chembl_id", value_column="pchembl_value")
    assert rows(result.table, "input", "assay", "value") == [(ASPIRIN, "CHEMBL204", 6.1), (CAFFEINE, "CHEMBL204", 7.3)]
    with pytest.raises(InputError) as error:
        readers.read_long(path, assay_column="target_chembl", value_column="pchembl_value")
    assert "'target_chembl_id'" in str(error.value)
    assert "Did you mean" in str(error.value)


def test_long_without_a_value_column_raises_listing_columns(tmp_path):
    path = write_text(tmp_path / "long.csv", f"smiles,assay,potency\n{ASPIRIN},A,1\n")
    with pytest.raises(InputError) as error:
        readers.read_long(path)
    assert "'potency'" in str(error.value) and "value" in str(error.value)


# --------------------------------------------------------------------------- MoleculeACE

def _copy_head(tmp_path, name, n):
    lines = moleculeace_head(name, n)
    path = write_text(tmp_path / name, "\n".join(lines) + "\n")
    return path, list(csv.DictReader(lines))


def test_moleculeace_file_value_is_9_plus_y_with_unit_from_the_name(tmp_path):
    path, raw = _copy_head(tmp_path, "CHEMBL204_Ki.csv", 12)
    result = readers.read_moleculeace(path)
    table = result.table
    validate(table)
    assert result.problems.empty
    assert table["line"].tolist() == list(range(2, 14))
    assert table["input"].tolist() == [r["smiles"] for r in raw]
    np.testing.assert_allclose(table["value"], [9.0 + float(r["y"]) for r in raw])
    np.testing.assert_allclose(table["value"], [9.0 - math.log10(float(r["exp_mean [nM]"])) for r in raw])
    assert set(table["assay"]) == {"CHEMBL204_Ki"}
    assert set(table["unit"]) == {"pKi"}
    assert set(table["source"]) == {"MoleculeACE:CHEMBL204_Ki.csv"}
    assert table["split"].tolist() == [r["split"] for r in raw]
    assert table["cliff_mol"].tolist() == [int(r["cliff_mol"]) for r in raw]
    assert tuple(table.columns[: len(COLUMNS)]) == COLUMNS
    # pKi: higher is active, split at the median
    median = np.median(table["value"])
    assert table["label"].tolist() == [float(v >= median) for v in table["value"]]


def test_moleculeace_directory_and_ec50_unit(tmp_path):
    _copy_head(tmp_path, "CHEMBL204_Ki.csv", 5)
    _copy_head(tmp_path, "CHEMBL2047_EC50.csv", 7)
    (tmp_path / "notes.csv").write_text("not,a,benchmark\n")  # not a CHEMBL file: ignored
    table = readers.read_moleculeace(tmp_path).table
    assert table.groupby("assay")["unit"].first().to_dict() == {"CHEMBL2047_EC50": "pEC50", "CHEMBL204_Ki": "pKi"}
    assert table["assay"].value_counts().to_dict() == {"CHEMBL2047_EC50": 7, "CHEMBL204_Ki": 5}
    assert readers.sniff_format(tmp_path) == "moleculeace"


def test_moleculeace_bad_y_is_reported(tmp_path):
    lines = moleculeace_head("CHEMBL204_Ki.csv", 4)
    fields = lines[3].split(",")
    fields[2] = ""
    lines[3] = ",".join(fields)
    path = write_text(tmp_path / "CHEMBL204_Ki.csv", "\n".join(lines) + "\n")
    result = readers.read_moleculeace(path)
    assert result.table["line"].tolist() == [2, 3, 5]
    assert rows(result.problems, "line", "input", "column") == [(4, fields[0], "y")]


def test_moleculeace_missing_column_raises(tmp_path):
    lines = moleculeace_head("CHEMBL204_Ki.csv", 3)
    text = "\n".join(",".join(line.split(",")[:4]) for line in lines) + "\n"  # drop 'split'
    path = write_text(tmp_path / "CHEMBL204_Ki.csv", text)
    with pytest.raises(InputError) as error:
        readers.read_moleculeace(path)
    assert "'split'" in str(error.value) and "'cliff_mol'" in str(error.value)


def test_moleculeace_empty_directory_raises(tmp_path):
    with pytest.raises(InputError, match="no MoleculeACE files"):
        readers.read_moleculeace(tmp_path)


def test_moleculeace_embedded_directory_has_30_assays_and_48714_rows():
    result = readers.read_moleculeace(MOLECULEACE_DIR)
    table = result.table
    assert result.problems.empty
    assert len(table) == 48_714
    assert table["assay"].nunique() == 30
    units = table.groupby("assay")["unit"].first()
    assert all(units[a] == ("pKi" if a.endswith("_Ki") else "pEC50") for a in units.index)
    assert (units == "pEC50").sum() == len(list(MOLECULEACE_DIR.glob("*_EC50.csv"))) == 7
    assert set(table["split"]) == {"train", "test"}
    assert set(table["cliff_mol"]) == {0, 1}
    assert table["value"].between(2, 13).all()
    # lines restart at 2 in every file
    assert (table.groupby("assay")["line"].min() == 2).all()
    assert set(table["label"].unique()) == {0.0, 1.0}


# --------------------------------------------------------------------------- MHC

def _mhc_subset():
    def exact(low, high):
        return lambda r: r[3] == "=" and low <= float(r[2]) < high
    return (
        mhc_rows(lambda r: r[3] == ">" and r[2] == "20000.0", 2)
        + mhc_rows(lambda r: r[3] == "<" and r[2] == "1000.0", 2)
        + mhc_rows(lambda r: r[3] == "<" and float(r[2]) <= 100, 2)
        + mhc_rows(exact(0, 450), 2)
        + mhc_rows(exact(600, 1e9), 2)
    )


def test_mhc_real_subset(tmp_path):
    subset = _mhc_subset()
    header = "allele,peptide,ic50,measurement_inequality,measurement_type"
    body = "\n".join(",".join(r) for r in subset)
    path = write_text(tmp_path / "mhc.csv", f"{header}\n{body}\nHLA-A*02:01,SLYNTVATL,,=,quantitative\n")
    assert readers.sniff_format(path) == "mhc"
    result = readers.read_mhc(path)
    table = result.table
    validate(table)
    assert table["line"].tolist() == list(range(2, 2 + len(subset)))
    assert table["input"].tolist() == [r[1] for r in subset]
    assert table["assay"].tolist() == [r[0] for r in subset]
    assert table["value"].tolist() == [float(r[2]) for r in subset]
    assert table["relation"].tolist() == [r[3] for r in subset]
    assert set(table["unit"]) == {"nM"}
    assert set(table["input_type"]) == {"peptide"}
    labels = table["label"].tolist()
    assert labels[0:2] == [0.0, 0.0]                     # > 20000 nM: non-binder
    assert all(math.isnan(x) for x in labels[2:4])       # < 1000 nM: undetermined
    assert labels[4:6] == [1.0, 1.0]                     # <= 100 nM: binder
    assert labels[6:8] == [1.0, 1.0]                     # exact < 500 nM
    assert labels[8:10] == [0.0, 0.0]                    # exact >= 500 nM
    assert problem_rows(result) == [(len(subset) + 2, "SLYNTVATL", "ic50", "missing value")]


def test_mhc_embedded_file_keeps_every_measurement_and_relation():
    with gzip.open(MHC_FILE, "rt") as handle:
        raw = pd.read_csv(handle)
    result = readers.read_table(MHC_FILE)
    table = result.table
    assert result.problems.empty
    assert len(table) == len(raw) == 194_231
    assert table["relation"].value_counts().to_dict() == raw["measurement_inequality"].value_counts().to_dict()
    assert set(table["unit"]) == {"nM"} and set(table["input_type"]) == {"peptide"}
    np.testing.assert_array_equal(table["value"].to_numpy(), raw["ic50"].to_numpy())
    exact = table[table["relation"] == "="]
    assert (exact["label"] == (exact["value"] < 500).astype(float)).all()  # a binder is below 500 nM
    above = table[(table["relation"] == ">") & (table["value"] >= 500)]
    assert (above["label"] == 0.0).all() and len(above) > 0
    undecided = table[(table["relation"] == "<") & (table["value"] > 500)]
    assert undecided["label"].isna().all() and len(undecided) > 0


# --------------------------------------------------------------------------- SMILES lists

def test_smi_file_with_header_names_and_blank_lines(tmp_path):
    path = write_text(tmp_path / "drugs.smi",
                      f"smiles\n{ETHANOL} ethanol\n\n{BENZENE}\tbenzene\n{ASPIRIN} aspirin\n   \n{CAFFEINE}\n")
    result = readers.read_smiles_list(path)
    assert rows(result.table, "line", "input") == [(2, ETHANOL), (4, BENZENE), (5, ASPIRIN), (7, CAFFEINE)]
    assert result.table["value"].isna().all()
    assert set(result.table["assay"]) == {""}
    assert problem_rows(result) == [(3, "", "", "empty line"), (6, "", "", "empty line")]
    assert_lines_match_file(path, result.table)


def test_txt_smiles_list_without_header_starts_at_line_1(tmp_path):
    path = write_text(tmp_path / "drugs.txt", f"{ASPIRIN}\n{CAFFEINE}\n")
    assert readers.sniff_format(path) == "smiles"
    result = readers.read_table(path)
    assert rows(result.table, "line", "input") == [(1, ASPIRIN), (2, CAFFEINE)]


def test_csv_smiles_list_embedded_moses():
    assert readers.sniff_format(MOSES_FILE) == "smiles"
    result = readers.read_table(MOSES_FILE)
    assert result.problems.empty
    assert len(result.table) == 50_000
    assert result.table["line"].iloc[0] == 2 and result.table["line"].iloc[-1] == 50_001
    assert result.table["value"].isna().all()
    with gzip.open(MOSES_FILE, "rt") as handle:
        handle.readline()
        assert result.table["input"].iat[0] == handle.readline().strip()


def test_csv_smiles_list_reports_empty_lines(tmp_path):
    path = write_text(tmp_path / "list.csv", f"SMILES,name\n{ASPIRIN},aspirin\n,\n{CAFFEINE},caffeine\n")
    result = readers.read_smiles_list(path)
    assert rows(result.table, "line", "input") == [(2, ASPIRIN), (4, CAFFEINE)]
    assert problem_rows(result) == [(3, "", "", "empty line")]


# --------------------------------------------------------------------------- sniffing and dispatch

@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("w.csv", f"smiles,NR-AR,SR-p53\n{ASPIRIN},1,0\n", "wide"),
        ("l.csv", f"smiles,assay,value\n{ASPIRIN},CHEMBL204,7\n", "long"),
        ("l2.csv", f"SMILES,task,y\n{ASPIRIN},CHEMBL204,7\n", "long"),
        ("CHEMBL204_Ki.csv", f"smiles,exp_mean [nM],y,cliff_mol,split\n{ASPIRIN},10,-1,0,train\n", "moleculeace"),
        ("m.csv", "allele,peptide,ic50\nHLA-A*01:01,AADKAAAAAY,45.0\n", "mhc"),
        ("s.csv", f"smiles\n{ASPIRIN}\n", "smiles"),
        ("s.smi", f"{ASPIRIN} aspirin\n", "smiles"),
        ("s.txt", f"{ASPIRIN}\n", "smiles"),
        ("w.tsv", f"smiles\tNR-AR\tSR-p53\n{ASPIRIN}\t1\t0\n", "wide"),
    ],
)
def test_sniff_format(tmp_path, name, text, expected):
    assert readers.sniff_format(write_text(tmp_path / name, text)) == expected


def test_sniff_format_embedded_files():
    assert readers.sniff_format(MOLECULEACE_DIR) == "moleculeace"
    assert readers.sniff_format(MOLECULEACE_DIR / "CHEMBL204_Ki.csv") == "moleculeace"
    assert readers.sniff_format(MHC_FILE) == "mhc"
    assert readers.sniff_format(MOSES_FILE) == "smiles"


def test_sniff_format_unreadable_header_raises(tmp_path):
    with pytest.raises(InputError, match="cannot read the header"):
        readers.sniff_format(write_text(tmp_path / "empty.csv", ""))


def test_read_table_dispatches_and_format_overrides(tmp_path):
    path = write_text(tmp_path / "l.csv", f"smiles,assay,value\n{ASPIRIN},CHEMBL204,<7\n")
    auto = readers.read_table(path)
    assert rows(auto.table, "assay", "value", "relation") == [("CHEMBL204", 7.0, "<")]
    forced = readers.read_table(path, readers.InputSpec(format="wide"))  # every numeric column is a target
    assert forced.problems.empty  # the text column is an identifier, carried under a name the schema leaves free
    assert rows(forced.table, "assay", "relation", "input_assay") == [("value", "<", "CHEMBL204")]
    named = readers.read_table(path, readers.InputSpec(format="wide", target_columns=["assay", "value"]))
    assert set(named.problems["column"]) == {"assay"}  # a column named as a target is read as one


def test_read_table_unknown_format(tmp_path):
    path = write_text(tmp_path / "l.csv", f"smiles,a\n{ASPIRIN},1\n")
    with pytest.raises(InputError) as error:
        readers.read_table(path, readers.InputSpec(format="sdf"))
    assert "'sdf'" in str(error.value) and "moleculeace" in str(error.value)


def test_read_table_moleculeace_single_file_from_a_copy(tmp_path):
    shutil.copy(MOLECULEACE_DIR / "CHEMBL4616_EC50.csv", tmp_path / "CHEMBL4616_EC50.csv")
    table = readers.read_table(tmp_path / "CHEMBL4616_EC50.csv").table
    expected = len(file_lines(MOLECULEACE_DIR / "CHEMBL4616_EC50.csv")) - 1
    assert len(table) == expected
    assert set(table["unit"]) == {"pEC50"}


# --- line numbers survive malformed lines (a line with too many fields is reported, not shifted) ---

def test_malformed_line_keeps_later_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("smiles,a\nCCO,1\nCCN,2,3\nCCC,4\nCCCC,5\n")
    result = readers.read_wide(path)
    assert dict(zip(result.table["input"], result.table["line"])) == {"CCO": 2, "CCC": 4, "CCCC": 5}
    problem = result.problems.set_index("line").loc[3]
    assert "malformed line: 3 fields" in problem["reason"]


def test_malformed_first_data_line_does_not_shift_columns(tmp_path):
    path = tmp_path / "bad_first.csv"
    path.write_text("smiles,a\nCCN,2,3\nCCC,4\nCCCC,5\n")
    result = readers.read_wide(path)
    assert result.table["input"].tolist() == ["CCC", "CCCC"]
    assert result.table["value"].tolist() == [4.0, 5.0]
    assert result.problems["line"].tolist() == [2]


def test_mhc_relations_are_normalised_and_unknown_ones_reported(tmp_path):
    path = tmp_path / "mhc.csv"
    path.write_text("allele,peptide,ic50,measurement_inequality\n"
                    "HLA-A*02:01,SLYNTVATL,100,<=\nHLA-A*02:01,GILGFVFTL,20000,>=\n"
                    "HLA-A*02:01,NLVPMVATV,30,~\nHLA-A*02:01,LLFGYPVYV,40,!\n")
    result = readers.read_mhc(path)
    assert result.table["relation"].tolist() == ["<", ">", "="]
    assert result.table["label"].tolist() == [1.0, 0.0, 1.0]
    assert result.problems["line"].tolist() == [5]
    assert "unknown relation" in result.problems["reason"].iat[0]


def test_long_file_with_a_target_column_is_sniffed_as_long(tmp_path):
    path = tmp_path / "long.csv"
    path.write_text("smiles,target,value\nCCO,CHEMBL204,5.1\nCCN,CHEMBL204,6.2\n")
    assert readers.sniff_format(path) == "long"


def test_smi_header_with_a_name_column_is_skipped(tmp_path):
    path = tmp_path / "mols.smi"
    path.write_text("SMILES Name\nCCO ethanol\nCC(=O)Oc1ccccc1C(=O)O aspirin\n")
    result = readers.read_smiles_list(path)
    assert result.table["input"].tolist() == ["CCO", "CC(=O)Oc1ccccc1C(=O)O"]
    assert result.table["line"].tolist() == [2, 3]


# --------------------------------------------------------------------------- identifier columns

def test_a_smiles_name_library_is_a_molecule_list_with_its_names(tmp_path):
    path = write_text(tmp_path / "library.csv",
                      f"smiles,name\n{ASPIRIN},aspirin\n{CAFFEINE},caffeine\n{ETHANOL},ethanol\n")
    assert readers.sniff_format(path) == "smiles"
    result = readers.read_table(path)
    assert result.problems.empty  # the names are not measurements: no "non-numeric value 'aspirin'"
    assert result.identifiers == ("name",)
    assert rows(result.table, "line", "input", "name") == [(2, ASPIRIN, "aspirin"), (3, CAFFEINE, "caffeine"),
                                                            (4, ETHANOL, "ethanol")]
    assert result.table["value"].isna().all()


def test_wide_file_carries_name_columns_and_still_reports_a_stray_text_cell(tmp_path):
    path = write_text(tmp_path / "assay.csv",
                      "name,smiles,pIC50,source\n"
                      f"aspirin,{ASPIRIN},5.1,lab A\n"
                      f"caffeine,{CAFFEINE},see notes,lab A\n"   # a stray text cell in a numeric column
                      f"paracetamol,{PARACETAMOL},6.3,lab B\n"
                      f"ibuprofen,{IBUPROFEN},4.8,\n")
    assert readers.sniff_format(path) == "wide"
    result = readers.read_table(path)
    assert result.identifiers == ("name", "input_source")  # 'source' is a schema column: carried beside it
    assert rows(result.table, "line", "assay", "value", "name", "input_source", "source") == [
        (2, "pIC50", 5.1, "aspirin", "lab A", "assay.csv"),
        (4, "pIC50", 6.3, "paracetamol", "lab B", "assay.csv"),
        (5, "pIC50", 4.8, "ibuprofen", "", "assay.csv"),
    ]
    assert problem_rows(result) == [(3, CAFFEINE, "pIC50", "non-numeric value 'see notes'")]


@pytest.mark.parametrize("cells, identifier", [
    (["aspirin", "caffeine", "ethanol"], True),
    (["TOX3021", "", "TOX3023"], True),
    (["5.1", "abc", "6.3"], False),           # one stray text cell: still a measurement column
    (["5.1", "<10", "> 1e4", "nan"], False),  # censored values and missing cells are measurements
    (["", "", ""], False),                    # nothing measured: not an identifier either
    (["1", "x"], False),                      # half and half: a measurement column, the text is reported
])
def test_is_identifier_column(cells, identifier):
    assert readers.is_identifier_column(pd.Series(cells)) is identifier


@pytest.mark.parametrize("name, identifier", [("compound_id", True), ("ID", True), ("Compound Name", True),
                                              ("mol_id", True), ("pIC50", False), ("NR-AR", False)])
def test_numeric_ids_are_identifiers_by_their_column_name(tmp_path, name, identifier):
    assert readers.is_identifier_column(pd.Series(["1001", "1002"]), name) is identifier
    path = write_text(tmp_path / "f.csv", f"smiles,{name},logS\n{ASPIRIN},1001,-1.72\n{CAFFEINE},1002,-0.87\n")
    result = readers.read_table(path)
    assert set(result.table["assay"]) == ({"logS"} if identifier else {"logS", name})
    if identifier:
        assert result.table[name].tolist() == ["1001", "1002"]


def test_wide_format_with_only_identifier_columns_says_which_format_to_use(tmp_path):
    path = write_text(tmp_path / "library.csv", f"smiles,name\n{ASPIRIN},aspirin\n{CAFFEINE},caffeine\n")
    with pytest.raises(InputError, match=r"'name' hold text, not measurements\. For a list of molecules use "
                                         r"--format smiles"):
        readers.read_table(path, readers.InputSpec(format="wide"))


def test_smi_names_are_carried_along(tmp_path):
    path = write_text(tmp_path / "drugs.smi", f"{ASPIRIN} aspirin\n{CAFFEINE}\n{ETHANOL} ethyl alcohol\n")
    result = readers.read_smiles_list(path)
    assert result.identifiers == ("name",)
    assert result.table["name"].tolist() == ["aspirin", "", "ethyl alcohol"]


# --------------------------------------------------------------------------- one line, one record

def test_an_unbalanced_quote_is_one_malformed_line_and_the_rest_is_read(tmp_path):
    smiles = [ASPIRIN, CAFFEINE, PARACETAMOL, IBUPROFEN, ETHANOL, BENZENE, METFORMIN, SALICYLIC_ACID] * 7
    lines = ["smiles,pIC50", '"CC(=O,2'] + [f"{s},{5 + i / 10}" for i, s in enumerate(smiles[:50])]
    path = write_text(tmp_path / "quoted.csv", "\n".join(lines) + "\n")
    assert len(lines) == 52
    result = readers.read_wide(path)
    assert problem_rows(result) == [(2, '"CC(=O,2', "", readers.UNBALANCED_QUOTE)]  # the raw line's text
    assert result.table["line"].tolist() == list(range(3, 53))
    assert result.table["input"].tolist() == smiles[:50]


def test_quoted_fields_on_one_line_are_read(tmp_path):
    path = write_text(tmp_path / "q.csv", f'smiles,name,pIC50\n"{ASPIRIN}","acetylsalicylic acid, 500 mg",5.2\n'
                                          f'{CAFFEINE},"the ""pick-me-up""",6.1\n')
    result = readers.read_wide(path)
    assert result.problems.empty
    assert result.table["name"].tolist() == ["acetylsalicylic acid, 500 mg", 'the "pick-me-up"']
    assert result.table["input"].tolist() == [ASPIRIN, CAFFEINE]


def test_malformed_lines_keep_their_text(tmp_path):
    path = write_text(tmp_path / "f.csv", f"smiles,pIC50\n{ASPIRIN},5,6\n{CAFFEINE}\n{ETHANOL},7\n")
    result = readers.read_wide(path)
    assert rows(result.problems, "line", "input") == [(2, f"{ASPIRIN},5,6"), (3, CAFFEINE)]


# --------------------------------------------------------------------------- files that Excel writes

LIBRARY = f"smiles,pIC50\n{ASPIRIN},5.2\n{CAFFEINE},6.1\n"


def _expect_library(path):
    result = readers.read_table(path)
    assert result.problems.empty
    assert rows(result.table, "line", "input", "value") == [(2, ASPIRIN, 5.2), (3, CAFFEINE, 6.1)]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_byte_order_marks_and_utf16_are_read(tmp_path, encoding):
    path = tmp_path / "excel.csv"
    path.write_bytes(LIBRARY.replace("\n", "\r\n").encode(encoding))
    assert readers.sniff_format(path) == "wide"
    _expect_library(path)


def test_a_gzipped_utf8_bom_file_is_read(tmp_path):
    path = tmp_path / "excel.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(LIBRARY.encode("utf-8-sig"))
    _expect_library(path)


@pytest.mark.parametrize("name, sep", [("semicolon.csv", ";"), ("tabs.csv", "\t"), ("commas.tsv", ",")])
def test_semicolon_and_tab_separated_files_are_read(tmp_path, name, sep):
    path = write_text(tmp_path / name, LIBRARY.replace(",", sep))
    assert readers.sniff_format(path) == "wide"
    _expect_library(path)


def test_a_semicolon_separated_list_with_names_is_a_molecule_list(tmp_path):
    path = write_text(tmp_path / "list.csv", f"SMILES;Name\n{ASPIRIN};aspirin\n{CAFFEINE};caffeine\n")
    assert readers.sniff_format(path) == "smiles"
    assert rows(readers.read_table(path).table, "input", "Name") == [(ASPIRIN, "aspirin"), (CAFFEINE, "caffeine")]


def test_a_semicolon_header_without_known_names_is_still_split(tmp_path):
    path = write_text(tmp_path / "f.csv", f"compound;pIC50\n{ASPIRIN};5.2\n")
    with pytest.raises(InputError, match=r"columns are: 'compound', 'pIC50'\. Name it with --smiles-column"):
        readers.read_wide(path)
    result = readers.read_wide(path, smiles_column="compound")
    assert rows(result.table, "input", "value") == [(ASPIRIN, 5.2)]


@pytest.mark.parametrize("header, names, sep", [
    ("smiles,name", (), ","),
    ("smiles;name", (), ";"),
    ("smiles\tname;x", (), "\t"),   # only the tab split names a known column
    ("compound;activity", (), ";"),  # no known column, one delimiter
    ("compound;act,ivity", (), ","),  # the default is present: kept
    ("Structure_ID;Drug", ("Drug",), ";"),
    ("CCO", (), ","),
])
def test_choose_delimiter(header, names, sep):
    assert readers.choose_delimiter("f.csv", header, names) == sep


def test_smi_files_with_a_bom_or_in_utf16_are_read(tmp_path):
    for encoding in ("utf-8-sig", "utf-16"):
        path = tmp_path / f"drugs-{encoding}.smi"
        path.write_bytes(f"smiles\n{ASPIRIN} aspirin\n{CAFFEINE}\n".encode(encoding))
        result = readers.read_table(path)
        assert rows(result.table, "line", "input") == [(2, ASPIRIN), (3, CAFFEINE)]  # the header is skipped


def test_a_txt_file_with_commas_is_a_table(tmp_path):
    path = write_text(tmp_path / "library.txt", f"id,smiles\nm1,{ASPIRIN}\nm2,{CAFFEINE}\n")
    assert not readers.is_line_list(path) and readers.sniff_format(path) == "smiles"
    assert rows(readers.read_table(path).table, "input", "id") == [(ASPIRIN, "m1"), (CAFFEINE, "m2")]


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40, "Excel workbook"),
    (b"smiles\x00\x01\x02\x00\xff\x00\x00\x00pIC50\n", "NUL bytes"),
])
def test_files_that_are_not_text_get_one_message(tmp_path, content, message):
    path = tmp_path / "data.csv"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        readers.read_table(path)


def test_a_file_that_is_not_gzip_gets_one_message(tmp_path):
    path = write_text(tmp_path / "data.csv.gz", LIBRARY)
    with pytest.raises(InputError, match="cannot be read"):
        readers.read_table(path)
