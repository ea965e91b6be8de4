"""Pretraining corpora: bad lines are reported, never crashed on; an empty corpus is an error."""

import pytest

from molprior.data.corpus import CorpusError, load_corpus

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
