"""``molprior data check``: outputs, line accounting, counts, atomic writes."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pandas as pd
import pytest
from rdkit import Chem

from _realdata import (
    ASPIRIN,
    BENZENE,
    CAFFEINE,
    ETHANOL,
    IBUPROFEN,
    METFORMIN,
    METFORMIN_HCL,
    MOLECULEACE_DIR,
    PARACETAMOL,
    PENTAVALENT_C,
    SALICYLIC_ACID,
    SODIUM_SALICYLATE,
    UNCLOSED_RING,
)
from molprior.data.check import check_file
from molprior.data.readers import InputSpec

OUTPUTS = ("standardized.csv", "rejected.csv", "duplicates.csv", "summary.json")

MESSY_WIDE = b"".join(line.encode() if isinstance(line, str) else line for line in [
    "smiles,NR-AR,SR-p53\n",               # 1
    "CCO,1,0\n",                           # 2
    "OCC,1,\n",                            # 3  ethanol again: merged with line 2 (NR-AR)
    f"{ASPIRIN},0,1\n",                    # 4
    f"{UNCLOSED_RING},1,0\n",              # 5  bad SMILES
    b"CC\xff\xfeO,1,0\n",                  # 6  not UTF-8
    "\n",                                  # 7  empty line
    f"{CAFFEINE},,\n",                     # 8  no measurement
    f"{BENZENE},abc,1\n",                  # 9  bad NR-AR cell, SR-p53 kept
    f"{SODIUM_SALICYLATE},0,0\n",          # 10 salt ...
    f"{SALICYLIC_ACID},1,1\n",             # 11 ... and parent disagree: ties dropped
    f"{METFORMIN_HCL},1,0\n",              # 12
])

MESSY_LONG = "".join([
    "smiles,assay,value,unit\n",                           # 1
    f"{ASPIRIN},CHEMBL204,<10,nM\n",                       # 2
    f"{CAFFEINE},CHEMBL204,250,nM\n",                      # 3
    "O=c1n(C)c(=O)c2c(ncn2C)n1C,CHEMBL204,1000,nM\n",      # 4  caffeine spelled differently: merged
    f"{PARACETAMOL},CHEMBL204,>1e4,nM\n",                  # 5
    f"{IBUPROFEN},CHEMBL204,,nM\n",                        # 6  missing value
    f"{ETHANOL},,30,nM\n",                                 # 7  missing assay
    f"{PENTAVALENT_C},CHEMBL204,5,nM\n",                   # 8  valence error
    f"{METFORMIN_HCL},CHEMBL214,7,nM\n",                   # 9
    f"{METFORMIN},CHEMBL214,70,nM\n",                      # 10 parent of line 9: merged
    f"{SODIUM_SALICYLATE},CHEMBL214,<5,nM\n",              # 11
    f"{SALICYLIC_ACID},CHEMBL214,>500,nM\n",               # 12 mixed bounds with 11: dropped
    f"{BENZENE},CHEMBL214,12,nM\n",                        # 13
    "\n",                                                  # 14 empty line
    f"{ASPIRIN},CHEMBL214,3.5,nM\n",                       # 15
])


def read_outputs(out: Path):
    standardized = pd.read_csv(out / "standardized.csv", keep_default_na=False)
    rejected = pd.read_csv(out / "rejected.csv", keep_default_na=False)
    duplicates = pd.read_csv(out / "duplicates.csv", keep_default_na=False, dtype={"lines": str})
    summary = json.loads((out / "summary.json").read_text())
    return standardized, rejected, duplicates, summary


def accounted_lines(out: Path) -> tuple[set, set, set]:
    standardized, rejected, duplicates, _ = read_outputs(out)
    merged = {int(x) for lines in duplicates["lines"] for x in str(lines).split(";")}
    return set(standardized["line"]), merged, set(rejected["line"])


def canonical(smiles):
    return Chem.MolToSmiles(Chem.MolFromSmiles(smiles))


@pytest.fixture
def messy_wide(tmp_path):
    path = tmp_path / "messy_tox.csv"
    path.write_bytes(MESSY_WIDE)
    return path


@pytest.fixture
def messy_long(tmp_path):
    path = tmp_path / "messy_long.csv"
    path.write_text(MESSY_LONG)
    return path


def test_check_wide_writes_the_four_outputs(messy_wide, tmp_path):
    out = tmp_path / "out"
    summary = check_file(messy_wide, out)
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)
    standardized, rejected, duplicates, written = read_outputs(out)
    assert written == json.loads(json.dumps(asdict(summary)))
    assert set(summary.outputs) == {"standardized", "rejected", "duplicates", "summary"}
    assert all(Path(p).exists() for p in summary.outputs.values())

    kept = sorted(zip(standardized["line"], standardized["assay"], standardized["smiles"], standardized["value"]))
    assert kept == [
        (2, "NR-AR", "CCO", 1.0),
        (2, "SR-p53", "CCO", 0.0),
        (4, "NR-AR", canonical(ASPIRIN), 0.0),
        (4, "SR-p53", canonical(ASPIRIN), 1.0),
        (9, "SR-p53", BENZENE, 1.0),
        (12, "NR-AR", canonical(METFORMIN), 1.0),
        (12, "SR-p53", canonical(METFORMIN), 0.0),
    ]
    reasons = dict(zip(rejected["line"], rejected["reason"]))
    assert set(reasons) == {5, 6, 7, 8, 9}
    assert reasons[5] == "unparseable SMILES (syntax error)"
    assert "UTF-8" in reasons[6]
    assert reasons[7] == "empty line"
    assert reasons[8] == "no measurement in any target column"
    assert reasons[9] == "non-numeric value 'abc'"
    assert rejected["line"].tolist() == sorted(rejected["line"])

    groups = sorted(zip(duplicates["assay"], duplicates["lines"], duplicates["conflict"]))
    assert groups == [("NR-AR", "10;11", True), ("NR-AR", "2;3", False), ("SR-p53", "10;11", True)]

    assert summary.format == "wide"
    assert summary.measurements_read == 16
    assert summary.rows_rejected == 5
    assert summary.measurements_kept == 7
    assert summary.molecules_kept == 4
    assert summary.duplicate_groups == 3
    assert summary.conflicting_groups == 2
    assert summary.assays == 2


def test_check_wide_accounts_for_every_line(messy_wide, tmp_path):
    check_file(messy_wide, tmp_path / "out")
    kept, merged, rejected = accounted_lines(tmp_path / "out")
    n_lines = len(MESSY_WIDE.splitlines())
    assert kept | merged | rejected == set(range(2, n_lines + 1))
    assert kept == {2, 4, 9, 12}
    assert merged == {2, 3, 10, 11}
    assert rejected == {5, 6, 7, 8, 9}


def test_check_long_outputs_and_every_line(messy_long, tmp_path):
    out = tmp_path / "out"
    summary = check_file(messy_long, out)
    standardized, rejected, duplicates, _ = read_outputs(out)
    kept, merged, bad = accounted_lines(out)
    assert kept | merged | bad == set(range(2, len(MESSY_LONG.splitlines()) + 1))
    assert kept == {2, 3, 5, 9, 13, 15}
    assert merged == {3, 4, 9, 10, 11, 12}
    assert bad == {6, 7, 8, 14}

    rows = {(line, assay): (value, relation) for line, assay, value, relation in
            zip(standardized["line"], standardized["assay"], standardized["value"], standardized["relation"])}
    assert rows[(2, "CHEMBL204")] == (10.0, "<")
    assert rows[(3, "CHEMBL204")] == (pytest.approx(500.0), "=")       # geometric mean of 250 and 1000 nM
    assert rows[(5, "CHEMBL204")] == (1e4, ">")
    assert rows[(9, "CHEMBL214")] == (pytest.approx(490 ** 0.5), "=")  # geometric mean of 7 and 70 nM
    assert set(standardized["unit"]) == {"nM"}

    reasons = dict(zip(rejected["line"], rejected["reason"]))
    assert reasons[6] == "missing value"
    assert reasons[7] == "missing assay"
    assert reasons[8].startswith("valence error")
    assert reasons[14] == "empty line"

    actions = dict(zip(duplicates["lines"], duplicates["action"]))
    assert actions["3;4"] == "geometric mean"
    assert actions["9;10"] == "geometric mean"
    assert actions["11;12"].startswith("dropped")

    assert summary.format == "long"
    assert summary.measurements_read == 11
    assert summary.rows_rejected == 4
    assert summary.measurements_kept == 6
    assert summary.assays == 2
    assert summary.conflicting_groups == 1


def test_check_real_moleculeace_file(tmp_path):
    source = MOLECULEACE_DIR / "CHEMBL2835_Ki.csv"
    path = tmp_path / source.name
    shutil.copy(source, path)
    summary = check_file(path, tmp_path / "out")
    kept, merged, rejected = accounted_lines(tmp_path / "out")
    n_lines = len(source.read_text().splitlines())
    assert kept | merged | rejected == set(range(2, n_lines + 1))
    assert summary.format == "moleculeace"
    assert summary.measurements_read == n_lines - 1
    assert summary.assays == 1
    standardized = pd.read_csv(tmp_path / "out" / "standardized.csv")
    assert {"split", "cliff_mol", "notes"} <= set(standardized.columns)
    assert set(standardized["unit"]) == {"pKi"}


def test_check_options_are_passed_to_the_reader(tmp_path):
    path = tmp_path / "tox.csv"
    path.write_text(f"mol_id,smiles,NR-AR,SR-p53\nTOX1,{ASPIRIN},1,0\nTOX2,{CAFFEINE},0,\n")
    summary = check_file(path, tmp_path / "out", InputSpec(format="wide", target_columns=["SR-p53"]))
    standardized, rejected, _, _ = read_outputs(tmp_path / "out")
    assert set(standardized["assay"]) == {"SR-p53"}
    assert rejected["line"].tolist() == [3]
    assert summary.assays == 1


def test_check_n_jobs_2_gives_the_same_outputs(messy_long, tmp_path):
    check_file(messy_long, tmp_path / "one", n_jobs=1)
    check_file(messy_long, tmp_path / "two", n_jobs=2)
    for name in ("standardized.csv", "rejected.csv", "duplicates.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()


def test_failed_write_keeps_the_old_outputs_and_leaves_no_part_file(messy_wide, tmp_path, monkeypatch):
    out = tmp_path / "out"
    check_file(messy_wide, out)
    before = {name: (out / name).read_bytes() for name in OUTPUTS}

    def broken_to_csv(self, path_or_buf=None, *args, **kwargs):
        Path(path_or_buf).write_text("line,input\n2,CC")  # half a file, then the disk fills up
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken_to_csv)
    with pytest.raises(OSError, match="No space left"):
        check_file(messy_wide, out)
    assert sorted(os.listdir(out)) == sorted(OUTPUTS)  # no .part file left behind
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before


def test_check_missing_input_raises_and_writes_nothing(tmp_path):
    from molprior.errors import InputError

    with pytest.raises(InputError):
        check_file(tmp_path / "absent.csv", tmp_path / "out", InputSpec(format="wide"))
    assert not (tmp_path / "out").exists()


def test_check_a_named_library_keeps_the_names_beside_the_standardised_smiles(tmp_path):
    path = tmp_path / "library.csv"
    path.write_text(f"smiles,name\n{ASPIRIN},aspirin\n[Na+].[O-]C(=O)c1ccccc1O,sodium salicylate\n"
                    f"{UNCLOSED_RING},broken\n{CAFFEINE},caffeine\n")
    summary = check_file(path, tmp_path / "out")
    standardized, rejected, _, _ = read_outputs(tmp_path / "out")
    assert summary.format == "smiles" and summary.identifier_columns == ["name"]
    assert list(zip(standardized["line"], standardized["smiles"], standardized["name"])) == [
        (2, canonical(ASPIRIN), "aspirin"), (3, canonical(SALICYLIC_ACID), "sodium salicylate"),
        (5, canonical(CAFFEINE), "caffeine")]
    assert rejected["line"].tolist() == [4]  # the bad molecule only, never "non-numeric value 'aspirin'"
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["identifier_columns"] == ["name"]


def test_check_an_unbalanced_quote_rejects_one_line(tmp_path):
    molecules = [ASPIRIN, CAFFEINE, PARACETAMOL, IBUPROFEN, ETHANOL, BENZENE, METFORMIN, SALICYLIC_ACID]
    lines = ["smiles,pIC50", '"CC(=O,2'] + [f"{molecules[i % 8]},{4 + i / 10:.1f}" for i in range(50)]
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(lines) + "\n")
    summary = check_file(path, tmp_path / "out")
    _, rejected, _, _ = read_outputs(tmp_path / "out")
    assert summary.rows_rejected == 1 and summary.measurements_read == 50
    assert rejected[["line", "input"]].values.tolist() == [[2, '"CC(=O,2']]  # the raw line
    assert "quote" in rejected["reason"].item()


@pytest.mark.parametrize("make", ["file", "input"])
def test_check_refuses_an_output_that_is_a_file_before_reading(messy_wide, tmp_path, make):
    from molprior.files import OutputPathError

    out = messy_wide if make == "input" else tmp_path / "out.csv"
    if make == "file":
        out.write_text("an earlier result\n")
    before = out.read_bytes()
    with pytest.raises(OutputPathError, match="is an existing file; it must name a directory"):
        check_file(messy_wide, out)
    assert out.read_bytes() == before


def test_check_refuses_to_replace_its_input_even_through_a_symlink(tmp_path):
    from molprior.files import OutputPathError

    out = tmp_path / "out"
    out.mkdir()
    (out / "standardized.csv").write_text(f"smiles,pIC50\n{ASPIRIN},5.2\n")
    link = tmp_path / "link.csv"
    link.symlink_to(out / "standardized.csv")
    for given in (out / "standardized.csv", link):
        with pytest.raises(OutputPathError, match="would replace the input"):
            check_file(given, out)
    assert (out / "standardized.csv").read_text() == f"smiles,pIC50\n{ASPIRIN},5.2\n"
