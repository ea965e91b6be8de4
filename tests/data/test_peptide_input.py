"""Tests for molprior.data.peptide_input: a user's peptide list read in chunks."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from _realdata import MHC_FILE, write_text
from molprior.data.peptide_input import COLUMNS, PeptideInputError, iter_peptide_rows

# HLA-A*02:01 epitopes: SLYNTVATL (HIV gag), NLVPMVATV (CMV pp65), GILGFVFTL (influenza M1),
# KLVALGINAV and YLLPAIVHI from the binding data in data/mhc.
EPITOPES = ["SLYNTVATL", "NLVPMVATV", "GILGFVFTL", "KLVALGINAV", "YLLPAIVHI"]


def read(path: Path, **options) -> pd.DataFrame:
    return pd.concat(list(iter_peptide_rows(path, **options)), ignore_index=True)


def by_row(frame: pd.DataFrame) -> dict[int, dict]:
    return {r["row"]: r for r in frame.to_dict("records")}


def test_epitopes_are_in_the_binding_data():
    peptides = set(pd.read_csv(MHC_FILE, usecols=["peptide"])["peptide"])
    assert {"KLVALGINAV", "YLLPAIVHI", "NLVPMVATV", "GILGFVFTL"} <= peptides


def test_text_file_normalisation_and_reasons(tmp_path):
    lines = ["slyntvatl", "", "  NLVPMVATV  ", "   ", "GILG*VFTL", "KLVALGXNAV", "YLLPAIVUI", "SLYNBVATL",
             "SLYNZVATL", "SLYNOVATL", "SLY1TVATL", "SLYNTVA", "SLYNTVATLSLYNTVA", " gilgfvftl", "SLYN-TVATL"]
    frame = read(write_text(tmp_path / "peptides.txt", "\n".join(lines) + "\n"))
    assert list(frame.columns) == list(COLUMNS)
    assert frame["row"].tolist() == [1, 3] + list(range(5, 16))
    assert frame["row"].dtype == "int64"
    rows = by_row(frame)
    assert rows[1] == {"row": 1, "input": "slyntvatl", "peptide": "SLYNTVATL", "allele_input": None,
                       "error": None, "note": "upper-cased"}
    assert rows[3]["input"] == "  NLVPMVATV  " and rows[3]["peptide"] == "NLVPMVATV"
    assert rows[3]["note"] == "whitespace removed"
    errors = {n: rows[n]["error"] for n in range(5, 14)} | {15: rows[15]["error"]}
    assert errors == {
        5: "stop codon '*' at position 5",
        6: "unknown residue X at position 7",
        7: "non-standard residue U (selenocysteine) at position 8",
        8: "ambiguous residue B (D or N) at position 5",
        9: "ambiguous residue Z (E or Q) at position 5",
        10: "non-standard residue O (pyrrolysine) at position 5",
        11: "digit '1' at position 4",
        12: "length 7 outside the supported range 8-15",
        13: "length 16 outside the supported range 8-15",
        15: "invalid character '-' at position 5",
    }
    assert all(rows[n]["peptide"] is None for n in errors)
    assert rows[14]["peptide"] == "GILGFVFTL" and rows[14]["note"] == "whitespace removed; upper-cased"


def test_lengths_option(tmp_path):
    frame = read(write_text(tmp_path / "p.txt", "SLYNTVA\nSLYNTVATL\n"), lengths=(7, 8))
    assert frame["error"].tolist() == [None, "length 9 outside the supported range 7-8"]


def test_duplicates_across_chunks(tmp_path):
    text = "SLYNTVATL\nNLVPMVATV\n\nGILGFVFTL\nslyntvatl\nSLYNTVATL\nGILG*VFTL\nGILG*VFTL\nNLVPMVATV\n"
    chunks = list(iter_peptide_rows(write_text(tmp_path / "p.txt", text), chunk_rows=2))
    assert [len(c) for c in chunks] == [2, 2, 2, 2]
    frame = pd.concat(chunks, ignore_index=True)
    assert frame["row"].tolist() == [1, 2, 4, 5, 6, 7, 8, 9]
    assert frame["note"].tolist() == [None, None, None, "upper-cased; duplicate of row 1", "duplicate of row 1",
                                      None, None, "duplicate of row 2"]
    assert frame["peptide"].notna().sum() == 6  # duplicates are kept


def test_csv_with_allele_column(tmp_path):
    text = ("Peptide,HLA,ic50\n"
            "SLYNTVATL,HLA-A*02:01,10\n"
            "\n"
            "slyntvatl,HLA-A*02:01,20\n"
            "SLYNTVATL,B0702,30\n"
            " NLVPMVATV ,hla-a*02:01 ,\n"
            ",,\n"
            ",HLA-A*02:01,\n"
            "GILGFVFTL\n")
    chunks = list(iter_peptide_rows(write_text(tmp_path / "p.csv", text), chunk_rows=2))
    frame = pd.concat(chunks, ignore_index=True)
    assert frame["row"].tolist() == [2, 4, 5, 6, 8, 9]
    assert frame["allele_input"].tolist() == ["HLA-A*02:01", "HLA-A*02:01", "B0702", "hla-a*02:01 ",
                                              "HLA-A*02:01", None]
    assert frame["input"].tolist() == ["SLYNTVATL", "slyntvatl", "SLYNTVATL", " NLVPMVATV ", "", "GILGFVFTL"]
    assert frame["note"].tolist() == [None, "upper-cased; duplicate of row 2", None, "whitespace removed", None, None]
    # line 9 lacks two of the header's three fields: that line's error, the rest is read
    assert frame["error"].tolist() == [None, None, None, None, "empty peptide",
                                       "malformed line: 1 fields, the header has 3"]


def test_a_malformed_table_line_is_one_errored_row_and_the_rest_is_read(tmp_path):
    lines = ["peptide,allele"] + [f"{p},HLA-A*02:01" for p in ("SLYNTVATL", "GILGFVFTL")]
    lines += ['"NLVPMVATV,HLA-A*02:01', "KLVALGINAV,HLA-A*02:01,surplus"]  # an unclosed quote, a field too many
    lines += [f"{p},HLA-A*02:01" for p in ("YLLPAIVHI", "SLYNTVATL")] * 20
    frame = read(write_text(tmp_path / "p.csv", "\n".join(lines) + "\n"))
    assert len(frame) == len(lines) - 1 and frame["row"].tolist() == list(range(2, len(lines) + 1))
    bad = frame.set_index("row").loc[[4, 5]]
    assert bad["input"].tolist() == ['"NLVPMVATV,HLA-A*02:01', "KLVALGINAV,HLA-A*02:01,surplus"]
    assert "quote" in bad["error"].iloc[0] and bad["error"].iloc[1] == "malformed line: 3 fields, the header has 2"
    assert frame.set_index("row").drop(index=[4, 5])["error"].isna().all()


def test_csv_without_allele_column_and_leading_blank_lines(tmp_path):
    text = "\n\nsequence,name\nKLVALGINAV,p1\nYLLPAIVHI,p2\nKLVALGINAV,p3\n"
    frame = read(write_text(tmp_path / "p.txt", text))  # a header naming the column makes it a table
    assert frame["row"].tolist() == [4, 5, 6]
    assert frame["allele_input"].tolist() == [None, None, None]
    assert frame["peptide"].tolist() == ["KLVALGINAV", "YLLPAIVHI", "KLVALGINAV"]
    assert frame["note"].tolist() == [None, None, "duplicate of row 4"]


def test_single_column_header_and_tsv(tmp_path):
    frame = read(write_text(tmp_path / "p.txt", "PEPTIDE\nSLYNTVATL\n"))
    assert frame[["row", "peptide"]].values.tolist() == [[2, "SLYNTVATL"]]
    frame = read(write_text(tmp_path / "p.tsv", "peptide\tmhc\nGILGFVFTL\tHLA-A*02:01\n"))
    assert frame[["row", "peptide", "allele_input"]].values.tolist() == [[2, "GILGFVFTL", "HLA-A*02:01"]]


def test_csv_missing_peptide_column(tmp_path):
    path = write_text(tmp_path / "p.csv", "pep,allele\nSLYNTVATL,HLA-A*02:01\n")
    with pytest.raises(PeptideInputError, match=r"p.csv: no peptide column \(expected one named peptide or "
                                                r"sequence\); the file's columns are: 'pep', 'allele'"):
        list(iter_peptide_rows(path))


def test_file_level_errors(tmp_path):
    with pytest.raises(PeptideInputError, match="no such file"):
        list(iter_peptide_rows(tmp_path / "missing.txt"))
    with pytest.raises(PeptideInputError, match="is a directory"):
        list(iter_peptide_rows(tmp_path))
    with pytest.raises(PeptideInputError, match="is empty"):
        list(iter_peptide_rows(write_text(tmp_path / "blank.txt", "\n  \n")))
    with pytest.raises(ValueError, match="chunk_rows"):
        list(iter_peptide_rows(write_text(tmp_path / "p.txt", "SLYNTVATL\n"), chunk_rows=0))


def test_header_only_csv_gives_one_empty_frame(tmp_path):
    chunks = list(iter_peptide_rows(write_text(tmp_path / "p.csv", "peptide,allele\n")))
    assert len(chunks) == 1 and chunks[0].empty and list(chunks[0].columns) == list(COLUMNS)


def test_gzip_text_and_csv(tmp_path):
    text_path = tmp_path / "p.txt.gz"
    with gzip.open(text_path, "wt") as handle:
        handle.write("\n".join(EPITOPES + ["", "nlvpmvatv"]) + "\n")
    frame = read(text_path)
    assert frame["peptide"].tolist() == EPITOPES + ["NLVPMVATV"]
    assert frame["row"].tolist() == [1, 2, 3, 4, 5, 7]
    assert frame["note"].iat[-1] == "upper-cased; duplicate of row 2"
    csv_path = tmp_path / "p.csv.gz"
    with gzip.open(csv_path, "wt") as handle:
        handle.write("peptide,allele\n" + "".join(f"{p},HLA-A*02:01\n" for p in EPITOPES))
    frame = read(csv_path, chunk_rows=3)
    assert frame["peptide"].tolist() == EPITOPES and frame["row"].tolist() == [2, 3, 4, 5, 6]


def test_real_binding_peptides_round_trip(tmp_path):
    data = pd.read_csv(MHC_FILE, usecols=["allele", "peptide"])
    data = data[(data.index < 1500) | ~data["peptide"].str.len().between(8, 15)]
    path = tmp_path / "binders.csv"
    data[["allele", "peptide"]].to_csv(path, index=False)
    frame = read(path, chunk_rows=500)
    assert len(frame) == len(data)
    assert frame["row"].tolist() == list(range(2, len(data) + 2))
    assert frame["input"].tolist() == data["peptide"].tolist()
    valid = data["peptide"].str.len().between(8, 15)
    assert frame["peptide"].notna().tolist() == valid.tolist()
    repeated = data.duplicated(["peptide", "allele"]) & valid
    assert repeated.any() and not valid.all()
    assert frame["note"].fillna("").str.startswith("duplicate of row").tolist() == repeated.tolist()


def test_empty_lines_are_reported_to_the_caller(tmp_path):
    skipped: list[int] = []
    frame = read(write_text(tmp_path / "p.txt", "SLYNTVATL\n\nNLVPMVATV\n   \nGILGFVFTL\n"), empty_lines=skipped)
    assert frame["row"].tolist() == [1, 3, 5] and skipped == [2, 4]
    skipped = []
    read(write_text(tmp_path / "p.csv", "\npeptide,allele\nSLYNTVATL,HLA-A*02:01\n,\nNLVPMVATV,HLA-A*02:01\n\n"),
         empty_lines=skipped)
    assert skipped == [1, 4, 6]


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16", "utf-16-le"])
def test_excel_encodings_of_lists_and_tables(tmp_path, encoding):
    text_path = tmp_path / "p.txt"
    text_path.write_bytes("\r\n".join(EPITOPES[:3]).encode(encoding))
    assert read(text_path)["peptide"].tolist() == EPITOPES[:3]
    csv_path = tmp_path / "p.csv"
    csv_path.write_bytes(("peptide,allele\r\n" + "".join(f"{p},HLA-A*02:01\r\n" for p in EPITOPES[:3]))
                         .encode(encoding))
    frame = read(csv_path)
    assert frame["peptide"].tolist() == EPITOPES[:3] and frame["allele_input"].tolist() == ["HLA-A*02:01"] * 3
    assert frame["error"].isna().all()


@pytest.mark.parametrize("name", ["p.csv", "p.txt"])
def test_semicolon_separated_peptide_tables(tmp_path, name):
    frame = read(write_text(tmp_path / name, "Peptide;Allele\nSLYNTVATL;HLA-A*02:01\nGILGFVFTL;HLA-A*02:01\n"))
    assert frame[["row", "peptide", "allele_input"]].values.tolist() == [[2, "SLYNTVATL", "HLA-A*02:01"],
                                                                         [3, "GILGFVFTL", "HLA-A*02:01"]]


def test_a_workbook_is_one_clear_error(tmp_path):
    path = tmp_path / "peptides.csv"
    path.write_bytes(b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 40)
    with pytest.raises(PeptideInputError, match="Excel workbook"):
        list(iter_peptide_rows(path))
