"""The internal assay schema: table construction, problems table, validation."""

from __future__ import annotations

import numpy as np
import pytest

from _realdata import ASPIRIN, CAFFEINE, ETHANOL
from molprior.data import schema
from molprior.data.schema import COLUMNS, PROBLEM_COLUMNS, RELATIONS, assay_table, empty_table, problems_table, validate


def test_assay_table_has_the_schema_columns_in_order_and_broadcasts_scalars():
    table = assay_table([2, 3, 5], [ETHANOL, ASPIRIN, CAFFEINE], "CHEMBL204_Ki", [6.5, 7.25, 5.0],
                        unit="pKi", source="file.csv")
    assert tuple(table.columns) == COLUMNS
    assert table["line"].tolist() == [2, 3, 5]
    assert table["line"].dtype == np.int64
    assert table["input"].tolist() == [ETHANOL, ASPIRIN, CAFFEINE]
    assert table["assay"].tolist() == ["CHEMBL204_Ki"] * 3
    assert table["value"].dtype == np.float64
    assert table["value"].tolist() == [6.5, 7.25, 5.0]
    assert table["input_type"].tolist() == ["smiles"] * 3
    assert table["smiles"].tolist() == [""] * 3
    assert table["relation"].tolist() == ["="] * 3
    assert table["unit"].tolist() == ["pKi"] * 3
    assert table["source"].tolist() == ["file.csv"] * 3
    assert table["label"].dtype == np.float64
    assert table["label"].isna().all()


def test_assay_table_takes_per_row_relations_labels_and_assays():
    table = assay_table([2, 3], ["AADKAAAAAY", "GEIGIRNWL"], ["HLA-A*01:01", "HLA-A*02:01"], [45.0, 20000.0],
                        input_type="peptide", relation=np.array(["=", ">"], dtype=object), unit="nM",
                        label=[1.0, 0.0])
    assert table["assay"].tolist() == ["HLA-A*01:01", "HLA-A*02:01"]
    assert table["relation"].tolist() == ["=", ">"]
    assert table["label"].tolist() == [1.0, 0.0]
    assert table["input_type"].tolist() == ["peptide", "peptide"]


def test_assay_table_appends_extra_columns_after_the_schema():
    table = assay_table([2], [ETHANOL], "a", [1.0], extra={"split": ["train"], "cliff_mol": [1]})
    assert tuple(table.columns) == COLUMNS + ("split", "cliff_mol")
    assert table["split"].tolist() == ["train"]
    assert table["cliff_mol"].tolist() == [1]


def test_empty_table_has_the_schema_and_no_rows():
    table = empty_table()
    assert tuple(table.columns) == COLUMNS
    assert len(table) == 0
    validate(table)


def test_problems_table_columns_and_integer_lines():
    problems = problems_table([(4, "C1CC", "smiles", "unparseable SMILES (syntax error)"), (7, "", "", "empty line")])
    assert tuple(problems.columns) == PROBLEM_COLUMNS
    assert problems["line"].dtype == np.int64
    assert problems["line"].tolist() == [4, 7]
    assert problems["reason"].tolist() == ["unparseable SMILES (syntax error)", "empty line"]
    empty = problems_table([])
    assert tuple(empty.columns) == PROBLEM_COLUMNS and len(empty) == 0


def test_validate_accepts_a_schema_table_with_every_relation():
    table = assay_table([2, 3, 4], [ETHANOL, ASPIRIN, CAFFEINE], "a", [1.0, 2.0, 3.0],
                        relation=np.array(list(RELATIONS), dtype=object))
    validate(table)  # no exception


def test_validate_names_a_missing_column():
    table = assay_table([2], [ETHANOL], "a", [1.0]).drop(columns="relation")
    with pytest.raises(ValueError, match="relation"):
        validate(table)


def test_validate_rejects_an_unknown_relation():
    table = assay_table([2, 3], [ETHANOL, ASPIRIN], "a", [1.0, 2.0], relation=np.array(["=", "<="], dtype=object))
    with pytest.raises(ValueError, match="<="):
        validate(table)


def test_schema_constants():
    assert COLUMNS[0] == "line"
    assert set(RELATIONS) == {"=", "<", ">"}
    assert PROBLEM_COLUMNS == ("line", "input", "column", "reason")
    assert isinstance(schema.__doc__, str) and all(f"``{c}``" in schema.__doc__ for c in COLUMNS)
