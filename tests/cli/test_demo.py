"""molprior.cli.demo: ``molprior demo``: the pipeline (the demo preset, or ``--config``) as one
``demo`` MLflow run, then the immunology part (the MHC model adapted to HLA-B*57:01 and a genotype
scored), both under ``-o``."""

from __future__ import annotations

import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from molprior.cli.main import main
from molprior.config import PipelineConfig, load_yaml_config
from molprior.tracking import registry
from molprior.tracking.runs import tracking_uri

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, **keys) -> Path:
    """A small pipeline YAML: the k-NN baseline on one draw of 16 of 80 real CHEMBL4203_Ki molecules."""
    assay = tmp_path / "CHEMBL4203_Ki.csv"
    lines = (ROOT / "data" / "moleculeace" / "CHEMBL4203_Ki.csv").read_text().splitlines()[:81]
    assay.write_text("\n".join(lines) + "\n")
    path = tmp_path / "demo.yaml"
    path.write_text(yaml.safe_dump({
        "output": str(tmp_path / "from-config"), "jobs": 1,
        "fewshot": {"input": str(assay), "test_assays": ["CHEMBL4203_Ki"], "support_sizes": [16], "draws": 1,
                    "methods": ["knn_tanimoto"]}, **keys}))
    return path


@pytest.fixture
def captured(monkeypatch):
    """The configuration the demo's pipeline gets and the directory of its immunology part (both
    only recorded: nothing runs)."""
    import molprior.cli.pipeline as pipeline_command
    import molprior.workflows.mhc_demo as mhc_demo
    import molprior.workflows.pipeline as pipeline

    seen = {"printed": []}
    monkeypatch.setattr(pipeline, "run_pipeline", lambda config, name: seen.update(config=config, name=name) or "ran")
    monkeypatch.setattr(pipeline_command, "print_outcome", lambda outcome: seen["printed"].append(outcome))
    monkeypatch.setattr(mhc_demo, "run_peptide_demo", lambda output: seen.update(peptides=output) or "peptides ran")
    monkeypatch.setattr(mhc_demo, "print_peptide_demo", lambda outcome: seen["printed"].append(outcome))
    return seen


def test_by_default_the_demo_preset_runs_into_its_output_directory(captured):
    assert main(["-q", "demo"]) == 0
    assert captured["config"] == load_yaml_config(PipelineConfig, "demo") and captured["name"] == "demo"
    assert captured["config"].output == "demo-output" and captured["peptides"] == "demo-output/peptides"
    assert captured["printed"] == ["ran", "peptides ran"]  # the pipeline's outcome first, then the peptides'


def test_output_and_config_options(captured, tmp_path):
    config = _config(tmp_path, generate=3)
    assert main(["-q", "demo", "--config", str(config), "-o", str(tmp_path / "given")]) == 0
    assert captured["config"].generate == 3 and captured["config"].fewshot.methods == ["knn_tanimoto"]
    assert captured["config"].output == str(tmp_path / "given")
    assert captured["peptides"] == f"{tmp_path / 'given'}/peptides"


def test_an_unknown_key_in_its_configuration_stops_the_demo_first(tmp_path, capsys):
    config = _config(tmp_path, generat=2)
    assert main(["demo", "--config", str(config), "-o", str(tmp_path / "out")]) == 2
    assert "unknown PipelineConfig keys ['generat']" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_the_demo_runs_the_pipeline_then_adapts_the_mhc_model_to_a_new_allele(mhc_model, tmp_path, monkeypatch,
                                                                             capsys):
    """The whole command, with the tiny MHC model standing in for the shipped one."""
    from molprior.tracking import artifacts
    from molprior.workflows.mhc_demo import GENOTYPE

    shipped = tmp_path / "shipped-mhc"
    shutil.copytree(mhc_model[0], shipped)
    monkeypatch.setattr(artifacts, "SHIPPED_MHC", shipped)
    monkeypatch.chdir(ROOT)  # the demo reads the new allele's measurements from the clone's data/
    out = tmp_path / "out"
    assert main(["-q", "demo", "--config", str(_config(tmp_path)), "-o", str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("Pipeline run "))
    immunology = next(i for i, line in enumerate(lines) if line.startswith("immunology: "))
    assert summary < immunology  # the pipeline first
    parent = mlflow.get_run(lines[summary].split()[2])
    assert parent.data.tags["molprior.command"] == "demo"
    assert (out / "settings.yaml").exists() and (out / "fewshot" / "results.csv").exists()
    version = registry.get_version("molprior-mhc-i")
    assert lines[immunology] == (f"immunology: adapted the MHC model to HLA-B*57:01 (not among its alleles) from 64 "
                                 f"measurements -> {out / 'peptides' / 'mhc-b5701' / 'model'}; registered as "
                                 f"molprior-mhc-i version {version.version}")
    scores = pd.read_csv(out / "peptides" / "peptide_scores.csv")
    assert set(scores["allele"]) == set(GENOTYPE)
    assert scores.loc[scores["allele"] == "HLA-B*57:01", "score"].notna().sum() > 2000
    assert lines[-1].startswith("predicted binders per allele: HLA-A*01:01 ")
    assert tracking_uri() in lines[summary]
