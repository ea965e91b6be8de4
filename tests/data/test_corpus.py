"""Pretraining corpora: bad lines are reported, never crashed on; an empty corpus is an error;
peptide corpora (real MHC rows, sequences checked, alleles excluded, mixed with molecules)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from molprior.data.corpus import CorpusError, excluded_alleles, load_corpus, load_peptide_corpus, merge_corpora
from molprior.immunology.peptides import peptide_to_smiles
from molprior.presets import PRESETS_DIR

ROOT_MOSES = "data/moses/moses_train_50k.csv.gz"


def test_reports_every_bad_line(tmp_path):
    path = tmp_path / "corpus.smi"
    path.write_text("\n".join([
        "CC(=O)Oc1ccccc1C(=O)O aspirin",
        "not_a_smiles",
        "C(C)(C)(C)(C)C",
        "",
        "FI(F)F iodine-trifluoride",        # valid for RDKit, not representable in SELFIES
        "OC(=O)c1ccccc1OC(C)=O",            # aspirin again, other spelling: a duplicate
        "CN1C=NC2=C1C(=O)N(C(=O)N2C)C caffeine",
    ]) + "\n")
    corpus = load_corpus(path)
    assert corpus.smiles == ["CC(=O)Oc1ccccc1C(=O)O", "Cn1c(=O)c2c(ncn2C)n(C)c1=O"]
    reasons = dict(zip(corpus.rejected["line"], corpus.rejected["reason"]))
    assert "syntax error" in reasons[2]
    assert "valence" in reasons[3]
    assert reasons[4] == "empty line"
    assert "SELFIES cannot encode" in reasons[5]
    assert corpus.lines_read == 6


def test_too_many_tokens_is_reported(tmp_path):
    path = tmp_path / "long.smi"
    path.write_text("CCO\n" + "C" * 120 + "\n")
    corpus = load_corpus(path, max_tokens=99)
    assert corpus.smiles == ["CCO"]
    assert "120 SELFIES tokens, more than 99" in corpus.rejected["reason"].iat[0]


def test_empty_corpus_is_a_clear_error(tmp_path):
    path = tmp_path / "bad.smi"
    path.write_text("garbage\nC1CC\n")
    with pytest.raises(CorpusError, match="no usable molecule among 2 lines"):
        load_corpus(path)


def test_csv_corpus_and_max_molecules():
    corpus = load_corpus(ROOT_MOSES, max_molecules=300)
    assert corpus.lines_read == 300 and len(corpus.smiles) == 300
    assert len(corpus.tokens[0]) > 5


# ---- peptide corpora ----------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
MHC = ROOT / "data" / "mhc" / "mhc_class1_human.csv.gz"
KEPT, HELD = "HLA-A*02:01", "HLA-B*35:01"


@pytest.fixture(scope="module")
def mhc(tmp_path_factory) -> tuple[Path, pd.DataFrame]:
    """Real measurements on two alleles: 10 peptides measured on both, 30 only on KEPT, 15 only
    on HELD, and two bad rows (a 20-mer, an X residue)."""
    table = pd.read_csv(MHC)
    table = table[table["allele"].isin([KEPT, HELD])]
    alleles = table.groupby("peptide")["allele"].agg(set)
    both = [p for p, a in alleles.items() if a == {KEPT, HELD} and 8 <= len(p) <= 11][:10]
    kept = [p for p, a in alleles.items() if a == {KEPT} and 8 <= len(p) <= 11][:30]
    held = [p for p, a in alleles.items() if a == {HELD} and 8 <= len(p) <= 11][:15]
    rows = table[table["peptide"].isin(both + kept + held)]
    bad = pd.DataFrame({"allele": [KEPT, KEPT], "peptide": ["ACDEFGHIKLMNPQRSTVWY", "SIINXEKL"], "ic50": [100.0, 100.0],
                        "measurement_inequality": ["=", "="], "measurement_type": ["quantitative"] * 2})
    frame = pd.concat([rows, bad], ignore_index=True)
    path = tmp_path_factory.mktemp("mhc") / "mhc.csv.gz"
    frame.to_csv(path, index=False)
    return path, frame


def test_peptides_become_molecules_and_held_out_alleles_are_excluded(mhc):
    path, frame = mhc
    corpus = load_peptide_corpus(path, max_tokens=240, exclude_alleles=[HELD])
    measured_on_held = set(frame.loc[frame["allele"] == HELD, "peptide"])
    expected = [p for p in dict.fromkeys(frame["peptide"]) if p not in measured_on_held and p.isalpha()
                and 8 <= len(p) <= 15 and "X" not in p]
    assert len(expected) == 30
    assert corpus.smiles == [peptide_to_smiles(p) for p in expected]  # file order, canonical SMILES
    assert corpus.peptide == [True] * 30 and corpus.peptide_smiles == set(corpus.smiles)
    # peptides measured on both alleles are gone too, wherever they occur
    assert not {peptide_to_smiles(p) for p in measured_on_held} & set(corpus.smiles)
    assert corpus.stats["peptides_excluded"] == 25 and corpus.stats["excluded_allele_rows"][HELD] > 0
    assert any("[C@@H1]" in tokens for tokens in corpus.tokens)
    reasons = corpus.rejected.set_index("input")["reason"]
    assert reasons["ACDEFGHIKLMNPQRSTVWY"] == "length 20 outside the supported range 8-15"
    assert reasons["SIINXEKL"] == "unknown residue X at position 5"
    assert set(corpus.rejected["column"]) == {"peptide"}
    line = int(corpus.rejected.loc[corpus.rejected["input"] == "SIINXEKL", "line"].iat[0])
    assert line == len(frame) + 1  # the file's line (header = line 1)


def test_too_long_peptides_are_rejected_with_their_length(mhc):
    path, _ = mhc
    corpus = load_peptide_corpus(path, max_tokens=125)
    long = corpus.rejected[corpus.rejected["reason"].str.contains("SELFIES tokens, more than 125")]
    assert len(long) > 0 and len(corpus.smiles) > 0
    assert all(len(tokens) <= 125 for tokens in corpus.tokens)


def test_a_sample_of_peptides_is_seeded(mhc):
    path, _ = mhc
    first = load_peptide_corpus(path, max_tokens=240, max_peptides=12, seed=1)
    again = load_peptide_corpus(path, max_tokens=240, max_peptides=12, seed=1)
    everything = load_peptide_corpus(path, max_tokens=240)
    assert first.smiles == again.smiles and len(first.smiles) == 12
    assert set(first.smiles) < set(everything.smiles)
    assert first.stats["peptides_not_sampled"] == len(everything.smiles) - 12


def test_text_file_of_sequences(tmp_path):
    path = tmp_path / "peptides.txt"
    path.write_text("peptide\nSIINFEKL\n\ngilgfvftl\nSIINFEKL\nNLVPMVATV extra\nACDEF\n")
    corpus = load_peptide_corpus(path)
    assert corpus.smiles == [peptide_to_smiles(p) for p in ("SIINFEKL", "GILGFVFTL", "NLVPMVATV")]
    assert dict(zip(corpus.rejected["line"], corpus.rejected["reason"])) == {
        3: "empty line", 7: "length 5 outside the supported range 8-15"}
    with pytest.raises(CorpusError, match="allele column"):
        load_peptide_corpus(path, exclude_alleles=[HELD])


def test_no_usable_peptide_is_a_clear_error(tmp_path):
    path = tmp_path / "peptides.csv"
    path.write_text("allele,peptide\nHLA-B*35:01,SIINFEKL\nHLA-A*02:01,XXXXXXXX\n")
    with pytest.raises(CorpusError, match="no usable peptide.*1 excluded"):
        load_peptide_corpus(path, exclude_alleles="HLA-B*35:01")


def test_excluded_alleles_from_the_benchmark_configuration():
    alleles = excluded_alleles(str(PRESETS_DIR / "mhc_benchmark.yaml"))
    assert excluded_alleles("mhc_benchmark.yaml") == alleles  # the preset by name
    assert len(alleles) == 8 and "HLA-B*35:01" in alleles and "HLA-C*06:02" in alleles
    assert excluded_alleles("HLA-A*01:01, HLA-B*07:02") == ["HLA-A*01:01", "HLA-B*07:02"]
    assert excluded_alleles(None) == []
    with pytest.raises(CorpusError, match="no such allele list"):
        excluded_alleles("missing.yaml")


def test_merged_corpus_marks_the_peptides(mhc, tmp_path):
    molecules_file = tmp_path / "molecules.csv"
    pd.read_csv(ROOT / "data" / "moses" / "moses_train_50k.csv.gz").head(40).to_csv(molecules_file, index=False)
    molecules = load_corpus(molecules_file)
    peptides = load_peptide_corpus(mhc[0], max_tokens=240)
    merged = merge_corpora(molecules, peptides)
    assert merged.smiles == molecules.smiles + peptides.smiles
    assert merged.peptide == [False] * len(molecules.smiles) + [True] * len(peptides.smiles)
    assert merged.lines_read == molecules.lines_read + peptides.lines_read
    assert len(merged.rejected) == len(molecules.rejected) + len(peptides.rejected)
