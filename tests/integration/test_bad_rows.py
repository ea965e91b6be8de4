"""One file of good rows mixed with every kind of bad row the project knows, through every
command that reads molecules or peptides: each bad row gets its reason, every good row its
score, and no bad row stops a run.

The molecules are real: MoleculeACE's CHEMBL2047_EC50 ligands, drugs, and the molecules
that once broke the standardiser (metallocenes written as ions, molsidomine, ``[SbH6+3]``).
"""

from __future__ import annotations

import pandas as pd
import pytest

from molprior.cli.main import main
from _fewshot import MOLECULEACE_DIR

ASSAY = "CHEMBL2047_EC50"

#: ``(name, the line as written, what each command must make of it)``: the expected reason's
#: start for a bad molecule (every command), ``None`` for a molecule that is scored.
MOLECULE_ROWS = [
    ("unclosed_ring", f"unclosed_ring,C1CC,{ASSAY},6.1", "unparseable SMILES (syntax error)"),
    ("pentavalent", f"pentavalent,C(C)(C)(C)(C)C,{ASSAY},6.2", "valence error"),
    ("bad_aromatic", f"bad_aromatic,c1cccc1,{ASSAY},6.3", "kekulisation failure"),
    ("ferrocene", f"ferrocene,[Fe+2].c1cc[cH-]c1.c1cc[cH-]c1,{ASSAY},6.4", "metal complex or organometallic (Fe)"),
    ("nickelocene", f"nickelocene,[Ni+2].c1cc[cH-]c1.c1cc[cH-]c1,{ASSAY},6.5", "metal complex or organometallic (Ni)"),
    ("chromocene", f"chromocene,[Cr+2].c1cc[cH-]c1.c1cc[cH-]c1,{ASSAY},6.6", "metal complex or organometallic (Cr)"),
    ("cobaltocene", f"cobaltocene,[Co+2].c1cc[cH-]c1.c1cc[cH-]c1,{ASSAY},6.7", "metal complex or organometallic (Co)"),
    ("cisplatin", f"cisplatin,[Pt+2].[NH3].[NH3].[Cl-].[Cl-],{ASSAY},6.8", "metal complex or organometallic (Pt)"),
    ("empty", f"empty,,{ASSAY},6.9", "empty SMILES"),
    ("not_utf8", f"not_utf8,CC\ufffdO,{ASSAY},7.0", "invalid UTF-8 bytes in SMILES"),
    ("star_carbon", f"star_carbon,C{'(C)' * 150},{ASSAY},7.05", "valence error: atom # 0 C has 150 neighbours"),
    ("molsidomine", f"molsidomine,CCOC(=O)[N-]c1c[n+](N2CCOCC2)no1,{ASSAY},7.1", None),
    ("stibonium", f"stibonium,[SbH6+3],{ASSAY},7.2", None),
    ("aspirin_quoted", f'"aspirin, 100 mg",CC(=O)Oc1ccccc1C(=O)O,{ASSAY},7.3', None),
    ("sodium_salt", f"sodium_salt,[Na+].[O-]C(=O)c1ccccc1O,{ASSAY},7.4", None),
    ("named_smiles", f"named_smiles,CCO ethanol,{ASSAY},7.5", None),
]
#: Lines that cannot be read as the header's fields: one error each, the rest of the file is read.
MALFORMED = ['"CC(=O,2', "surplus,CCO,CHEMBL2047_EC50,7.6,surplus"]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    """``(path, lines)``: a long file (name,smiles,assay,value) of 80 real CHEMBL2047_EC50
    ligands with the bad rows spread between them; ``lines`` maps a row name to its line."""
    ligands = pd.read_csv(MOLECULEACE_DIR / f"{ASSAY}.csv").head(80)
    body = [f"ligand{i},{s},{ASSAY},{9 + y:.3f}" for i, (s, y) in enumerate(zip(ligands["smiles"], ligands["y"]))]
    for position, (_, line, _) in enumerate(MOLECULE_ROWS):
        body.insert(5 * position + 2, line)
    body.insert(31, MALFORMED[0])
    body.insert(47, "")  # an empty line
    body.insert(60, MALFORMED[1])
    body.insert(66, f"no_value,CC(C)Cc1ccc(C(C)C(=O)O)cc1,{ASSAY},")  # ibuprofen with no measurement
    body.insert(70, f"text_value,Cn1c(=O)c2c(ncn2C)n(C)c1=O,{ASSAY},inactive")  # caffeine, a word for a value
    lines = ["name,smiles,assay,value", *body]
    path = tmp_path_factory.mktemp("mixed") / "mixed.csv"
    path.write_bytes("\n".join(lines).replace("\ufffd", "\udcff").encode("utf-8", "surrogateescape") + b"\n")
    numbers = {line.split(",")[0]: number for number, line in enumerate(lines, start=1) if line}
    numbers["aspirin_quoted"] = lines.index(dict((n, l) for n, l, _ in MOLECULE_ROWS)["aspirin_quoted"]) + 1
    numbers["unbalanced"] = lines.index(MALFORMED[0]) + 1
    return path, numbers


def _bad_molecules():
    return [(name, reason) for name, _, reason in MOLECULE_ROWS if reason]


def test_predict_scores_every_good_row_and_gives_each_bad_row_its_reason(fewshot_models, mixed, tmp_path):
    _, adapted = fewshot_models
    path, lines = mixed
    out = tmp_path / "scores.csv"
    assert main(["-q", "predict", "--model", str(adapted), "--input", str(path), "--output", str(out), "-j", "1"]) == 0
    scores = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert len(scores) == len(path.read_bytes().splitlines()) - 2  # every line but the header and the empty one
    by_name = scores.set_index("name")
    for name, reason in _bad_molecules():
        assert by_name.loc[name, "error"].startswith(reason), (name, by_name.loc[name, "error"])
        assert by_name.loc[name, "probability_active"] == ""
    malformed = scores[scores["error"].str.startswith("malformed line") | scores["error"].str.contains("quote")]
    assert len(malformed) == 2 and '"CC(=O,2' in malformed["smiles"].tolist()
    good = scores[~scores["name"].isin([n for n, _ in _bad_molecules()]) & ~scores.index.isin(malformed.index)]
    assert len(good) == 80 + 5 + 2  # the ligands, the five good oddities, the two rows with a bad value
    assert (good["error"] == "").all()
    assert good["probability_active"].astype(float).between(0, 1).all()


def test_data_check_rejects_each_bad_row_with_its_reason_and_keeps_the_rest(mixed, tmp_path):
    path, lines = mixed
    out = tmp_path / "check"
    assert main(["-q", "data", "check", str(path), "-o", str(out), "-j", "1"]) == 0
    rejected = pd.read_csv(out / "rejected.csv", keep_default_na=False)
    reasons = rejected.groupby("line")["reason"].apply(lambda r: "; ".join(r)).to_dict()
    for name, reason in _bad_molecules():
        assert reasons[lines[name]].startswith(reason), (name, reasons.get(lines[name]))
    assert "quote" in reasons[lines["unbalanced"]]
    assert reasons[lines["surplus"]].startswith("malformed line")
    assert reasons[lines["no_value"]] == "missing value"
    assert reasons[lines["text_value"]] == "non-numeric value 'inactive'"
    standardized = pd.read_csv(out / "standardized.csv", keep_default_na=False)
    kept_lines = set(standardized["line"]) | {int(x) for d in pd.read_csv(out / "duplicates.csv", dtype=str)["lines"]
                                              for x in str(d).split(";") if x and x != "nan"}
    good = [lines[f"ligand{i}"] for i in range(80)] + [lines[n] for n, _, r in MOLECULE_ROWS if r is None]
    assert set(good) <= kept_lines | set(rejected.loc[rejected["reason"].str.contains("duplicate"), "line"])
    assert "molsidomine" in standardized["name"].tolist() and "aspirin, 100 mg" in standardized["name"].tolist()


def test_the_fewshot_benchmark_runs_and_lists_the_rows_it_left_out(mixed, tmp_path):
    path, lines = mixed
    out = tmp_path / "bench"
    assert main(["-q", "benchmark", "fewshot", "--input", str(path), "--test-assays", ASSAY, "--support-sizes", "16",
                 "--draws", "2", "--methods", "rf_ecfp,knn_tanimoto", "-o", str(out), "-j", "1"]) == 0
    results = pd.read_csv(out / "results.csv")
    assert results["mean"].notna().all() and set(results["method"]) == {"rf_ecfp", "knn_tanimoto"}
    rejected = pd.read_csv(out / "rejected.csv", keep_default_na=False)
    for name, reason in _bad_molecules():
        assert rejected.loc[rejected["line"] == lines[name], "reason"].str.startswith(reason).any(), name


#: Peptide rows, each with the start of the error it must get (``None``: scored).
PEPTIDE_ROWS = [
    ("SLYNTVATL,HLA-A*02:01", None),
    ("GILGFVFTL,HLA-A0201", None),  # another spelling of the same allele
    ("nlvpmvatv,A*02:01", None),  # lower case, short allele name
    ("GILGF*FTL,HLA-A*02:01", "stop codon '*' at position 6"),
    ("GILGFXFTL,HLA-A*02:01", "unknown residue X at position 6"),
    ("GILGFVF,HLA-A*02:01", "length 7 outside the supported range"),
    ("SLYN1VATL,HLA-A*02:01", "digit '1' at position 5"),
    (",HLA-A*02:01", "empty peptide"),
    ("SLYNTVATL,HLA-DRB1*01:01", "'HLA-DRB1*01:01' is an MHC class II allele"),
    ("SLYNTVATL,H-2-Kb", "'H-2-Kb' is a mouse allele"),
    ("SLYNTVATL,HLA-Z*99:99", ""),  # not an allele at all: some error, naming it
    ('"KLVALGINAV,HLA-A*02:01', "quote"),
    ("KLVALGINAV,HLA-A*02:01,surplus", "malformed line"),
    ("KLVALGINAV,HLA-A*02:01", None),
    ("YLLPAIVHI,HLA-B*07:02", None),
]


def test_peptides_score_gives_each_bad_row_its_reason_and_scores_the_rest(mhc_model, tmp_path):
    model, _, _ = mhc_model
    lines = ["peptide,allele", *[line for line, _ in PEPTIDE_ROWS[:8]], "", *[line for line, _ in PEPTIDE_ROWS[8:]]]
    path = tmp_path / "pairs.csv"
    path.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.csv"
    assert main(["-q", "peptides", "score", "--model", str(model), "--peptides", str(path), "--output", str(out)]) == 0
    scores = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert len(scores) == len(PEPTIDE_ROWS)  # one row per pair, the empty line skipped
    for (line, expected), (_, row) in zip(PEPTIDE_ROWS, scores.iterrows()):
        if expected is None:
            assert row["error"] == "" and 0 < float(row["ic50_nm"]) <= 50000, line
        else:
            assert row["error"] != "" and row["ic50_nm"] == "", line
            assert expected in row["error"], (line, row["error"])
