"""molprior.cli.pretrain: ``molprior pretrain`` then ``molprior generate`` on a tiny model, their
clear errors, and the continued-pretraining and peptide options reaching the configuration."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import molprior.workflows.pretrain as workflow
from molprior.cli.main import main
from molprior.presets import PRESETS_DIR

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def captured(monkeypatch):
    seen = {}

    def fake_run(config, output_dir, **options):
        seen.update(config=config, output=output_dir, options=options)
        raise SystemExit(0)  # nothing to train here: the configuration is what the test checks

    monkeypatch.setattr(workflow, "run_pretraining", fake_run)
    return seen


def test_flags_fill_the_configuration(captured, tmp_path):
    with pytest.raises(SystemExit):
        main(["-q", "pretrain", "--config", str(PRESETS_DIR / "pretrain.yaml"),
              "--init-from", "shipped", "--peptides", "data/mhc/mhc_class1_human.csv.gz", "--max-peptides", "500",
              "--peptide-lengths", "8,11", "--exclude-alleles", "mhc_benchmark.yaml",
              "--max-tokens", "200", "--output", str(tmp_path / "out")])
    config = captured["config"]
    assert config.init_from == "shipped" and config.peptides == "data/mhc/mhc_class1_human.csv.gz"
    assert config.max_peptides == 500 and config.peptide_lengths == [8, 11] and config.max_tokens == 200
    assert config.exclude_alleles == "mhc_benchmark.yaml"


def test_the_peptide_configuration_continues_from_the_default_prior(captured, tmp_path):
    with pytest.raises(SystemExit):
        main(["-q", "pretrain", "--config", str(PRESETS_DIR / "pretrain_peptides.yaml"),
              "--output", str(tmp_path / "out")])
    config = captured["config"]
    assert config.init_from == "molprior/priors/default" and config.exclude_alleles.endswith("mhc_benchmark.yaml")
    assert config.peptide_lengths == [8, 15] and config.max_tokens >= 192  # every 8-11-mer fits
    assert not config.encoder and not config.decoder  # the parent's shape


def test_bad_peptide_lengths_and_a_missing_parent_are_clear_errors(tmp_path, capsys):
    corpus = str(ROOT / "data" / "moses" / "moses_train_50k.csv.gz")
    assert main(["pretrain", "--corpus", corpus, "--peptide-lengths", "8,9,10", "--output", str(tmp_path / "a")]) == 2
    assert "--peptide-lengths takes MIN,MAX" in capsys.readouterr().err
    assert main(["pretrain", "--corpus", corpus, "--init-from", str(tmp_path / "nowhere"),
                 "--output", str(tmp_path / "b")]) == 2
    assert "no such model directory" in capsys.readouterr().err


def test_pretrain_then_generate(tmp_path, capsys):
    config = tmp_path / "tiny.yaml"
    config.write_text("batch_size: 32\nencoder: {hidden_dim: 16, num_layers: 2}\n"
                      "decoder: {latent_dim: 8, hidden_dim: 32, embedding_dim: 8}\n"
                      "optim: {sample_size: 20, reconstruction_size: 10}\ntrainer: {max_epochs: 1}\n")
    out = tmp_path / "prior"
    code = main(["-q", "pretrain", "--config", str(config), "--corpus", str(ROOT / "data" / "moses" / "moses_train_50k.csv.gz"),
                 "--max-molecules", "120", "--output", str(out), "-j", "1"])
    assert code == 0
    assert "final_sample_validity" in capsys.readouterr().out
    samples = tmp_path / "samples.csv"
    assert main(["-q", "generate", "--model", str(out), "-n", "15", "--output", str(samples), "--seed", "3"]) == 0
    frame = pd.read_csv(samples, keep_default_na=False)
    assert len(frame) == 15 and list(frame.columns) == ["smiles"]
    assert "validity" in capsys.readouterr().out


def test_pretrain_empty_corpus_is_a_clear_error(tmp_path, capsys):
    corpus = tmp_path / "bad.smi"
    corpus.write_text("garbage\nC1CC\n")
    assert main(["pretrain", "--corpus", str(corpus), "--output", str(tmp_path / "out")]) == 2
    assert "no usable molecule" in capsys.readouterr().err


def test_generate_with_a_missing_model(tmp_path, capsys):
    assert main(["generate", "--model", str(tmp_path / "absent"), "-n", "3", "-o", str(tmp_path / "x.csv")]) == 2
    assert "no such model directory" in capsys.readouterr().err
