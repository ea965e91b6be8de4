"""molprior.cli.benchmark_mhc: ``molprior benchmark mhc``: its configuration (a preset or a file,
overridden by the options), what it prints, and the throughput measurement on the tiny MHC model."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from molprior.cli.benchmark_mhc import TARGETS
from molprior.cli.main import main
from molprior.presets import PRESETS_DIR


def test_benchmark_mhc_reads_its_configuration_and_measures_throughput(mhc_model, tmp_path, monkeypatch, capsys):
    model_dir, uri, held_out_csv = mhc_model
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = tmp_path / "mhc_benchmark.yaml"
    config.write_text(yaml.safe_dump({"speed_peptides": 200, "speed_alleles": 2}))
    assert main(["-q", "benchmark", "mhc", "--config", str(config), "-i", str(held_out_csv), "--speed-only",
                 "--model", str(model_dir), "-o", str(tmp_path / "out")]) == 0
    speed = json.loads((tmp_path / "out" / "mhc_speed.json").read_text())
    assert speed["peptides_per_s_genotype"] > 0 and "peptides_per_s_genotype:" in capsys.readouterr().out
    config.write_text(yaml.safe_dump({"held_out": ["HLA-B*35:01"], "no_such_key": 1}))
    assert main(["benchmark", "mhc", "--config", str(config), "-o", str(tmp_path / "out2")]) == 2
    assert "unknown MHCBenchmarkConfig keys ['no_such_key']" in capsys.readouterr().err


#: What the made-up protocol run returns: two methods at two support sizes, and its metrics.
SUMMARY = pd.DataFrame({"method": ["molprior", "molprior", "rf_blosum62", "rf_blosum62"],
                        "support_size": [16, 32, 16, 32], "roc_auc": [0.81234, 0.86, 0.7, 0.75],
                        "spearman": [0.5, 0.6, 0.4, 0.45]})
METRICS = {"cv.roc_auc": 0.9412, "peptides_per_s_genotype": 1234.5, "ratio_genotype_vs_rf": 3.0,
           "molprior.roc_auc.k32": 0.86}


@pytest.fixture
def captured(monkeypatch):
    """What ``benchmark mhc`` hands the workflow (which records it and returns made-up results)."""
    import molprior.workflows.mhc_benchmark as workflow

    seen = {}

    def fake_benchmark(config, output, jobs, progress):
        seen.update(config=config, output=output, jobs=jobs, progress=progress)
        return SUMMARY, METRICS

    def fake_speed(config, output, model, peptides, jobs):
        seen.update(config=config, output=output, model=model, peptides=peptides, speed_jobs=jobs)
        return {"speed_alleles": 6, "speed_jobs": jobs, "peptides_per_s_genotype": 5500.0,
                "ratio_cold_vs_steady": 0.8, "peak_rss_gb": 0.51234}

    monkeypatch.setattr(workflow, "run_mhc_benchmark", fake_benchmark)
    monkeypatch.setattr(workflow, "run_speed", fake_speed)
    return seen


def test_by_default_the_preset_sets_the_protocol(captured, capsys):
    assert main(["-q", "benchmark", "mhc"]) == 0
    config = captured["config"]
    preset = yaml.safe_load((PRESETS_DIR / "mhc_benchmark.yaml").read_text())
    assert config.held_out == preset["held_out"] and len(config.held_out) == 8
    assert config.draws == preset["draws"] and config.methods == preset["methods"]
    assert config.train.prior == "peptide" and config.train.held_out == preset["held_out"]  # the model never sees them
    assert captured["output"] == "out/benchmark-mhc" and captured["jobs"] == 2 and captured["progress"] is False


def test_options_override_the_configuration_and_keep_its_training_keys(captured, tmp_path):
    config_file = tmp_path / "mhc.yaml"
    config_file.write_text(yaml.safe_dump({"held_out": ["HLA-B*35:01"], "draws": 5,
                                           "train": {"prior": "peptide", "finetune_epochs": 4,
                                                     "trainer": {"patience": 7, "max_epochs": 50}}}))
    assert main(["-q", "benchmark", "mhc", "--config", str(config_file)]) == 0
    train = captured["config"].train
    assert train.prior == "peptide" and train.trainer.max_epochs == 50 and captured["config"].draws == 5
    assert main(["-q", "benchmark", "mhc", "--config", str(config_file), "-i", "alleles.csv", "--draws", "2",
                 "--methods", "molprior,rf_onehot", "--prior", "default", "--epochs", "3", "-j", "1",
                 "-o", str(tmp_path / "out")]) == 0
    config = captured["config"]
    assert config.held_out == ["HLA-B*35:01"] and config.data == "alleles.csv" and config.draws == 2
    assert config.methods == ["molprior", "rf_onehot"]
    train = config.train
    assert train.prior == "default" and train.trainer.max_epochs == 3  # the options
    assert train.finetune_epochs == 4 and train.trainer.patience == 7  # the file's other training keys
    assert train.data == "alleles.csv" and train.held_out == ["HLA-B*35:01"]  # the benchmark's data, for the model too
    assert captured["output"] == str(tmp_path / "out") and captured["jobs"] == 1


def test_it_prints_both_tables_the_headline_metrics_and_the_targets(captured, capsys):
    assert main(["-q", "benchmark", "mhc"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ROC-AUC at 500 nM (mean over held-out alleles):"
    roc = lines[1:lines.index("Spearman:")]
    assert roc[0].split() == ["support_size", "16", "32"]
    assert ["molprior", "0.812", "0.86"] in [line.split() for line in roc]
    spearman = lines[lines.index("Spearman:") + 1:]
    assert ["rf_blosum62", "0.4", "0.45"] in [line.split() for line in spearman]
    # the cross-validation, throughput and ratio metrics, sorted; not the per-size metrics of the tables
    assert lines[-4:] == ["cv.roc_auc: 0.941", "peptides_per_s_genotype: 1234.500", "ratio_genotype_vs_rf: 3.000",
                          TARGETS]


def test_speed_only_measures_the_given_model_and_runs_nothing_else(captured, tmp_path, capsys):
    assert main(["-q", "benchmark", "mhc", "--speed-only", "--model", "models:/molprior-mhc-i@champion",
                 "--speed-peptides", "500", "-o", str(tmp_path / "speed")]) == 0
    assert captured["model"] == "models:/molprior-mhc-i@champion" and captured["peptides"] == 500
    assert "jobs" not in captured and captured["speed_jobs"] == 2  # no protocol run; two scoring workers
    assert capsys.readouterr().out.splitlines() == [
        "speed_alleles: 6.000", "speed_jobs: 2.000", "peptides_per_s_genotype: 5500.000", "ratio_cold_vs_steady: 0.800",
        "peak_rss_gb: 0.512", "target >= 5,000 peptides/s (6 alleles, 2 workers): 5,500 -> met",
        "target cold start >= 0.833 x steady: 0.800 -> NOT met"]


def test_threads_sets_torchs_threads(captured):
    import torch

    before = torch.get_num_threads()
    try:
        assert main(["-q", "benchmark", "mhc", "--threads", "2"]) == 0
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


def test_a_configuration_that_is_not_there_is_the_users_error(captured, tmp_path, capsys):
    assert main(["benchmark", "mhc", "--config", str(tmp_path / "absent.yaml")]) == 2
    err = capsys.readouterr().err
    absent = tmp_path / "absent.yaml"
    assert err.startswith(f"molprior benchmark: error: no such configuration file or preset: {absent}")
    assert "mhc_benchmark" in err and not captured  # the presets are listed; nothing ran
