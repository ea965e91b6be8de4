"""The demo job end to end on a slice of the embedded data (two assays, one support size)."""

import mlflow
import pandas as pd

from molprior.config import DemoConfig, FewShotConfig
from molprior.workflows.demo import run_demo


def test_demo_runs_end_to_end_and_reuses_the_feature_cache(tmp_path, moleculeace_dir):
    data = tmp_path / "moleculeace"
    data.mkdir()
    for assay in ("CHEMBL4203_Ki", "CHEMBL2047_EC50"):
        (data / f"{assay}.csv").write_bytes((moleculeace_dir / f"{assay}.csv").read_bytes())
    config = DemoConfig(
        fewshot=FewShotConfig(input=str(data), test_assays=["CHEMBL4203_Ki", "CHEMBL2047_EC50"],
                              support_sizes=[16], draws=2),
        output=str(tmp_path / "out"), jobs=1, generate=0)
    outcome = run_demo(config, cache_dir=tmp_path / "cache").fewshot
    results = pd.read_csv(outcome.outputs["results"])
    assert set(results["method"]) == {"rf_ecfp", "knn_tanimoto"} and (results["n_tasks"] == 2).all()
    assert "rf_ecfp" in outcome.table_text
    first = mlflow.get_run(outcome.outputs["run_id"]).data.metrics
    assert first["featurize.from_cache"] == 0 and first["featurize.graphs"] > 500
    again = run_demo(config, cache_dir=tmp_path / "cache").fewshot
    second = mlflow.get_run(again.outputs["run_id"]).data.metrics
    assert second["featurize.from_cache"] == first["featurize.graphs"]
    assert "rf_ecfp.delta_auprc.k16" in second


def test_demo_pretrains_and_generates(tmp_path, moleculeace_dir):
    data = tmp_path / "moleculeace"
    data.mkdir()
    (data / "CHEMBL4203_Ki.csv").write_bytes((moleculeace_dir / "CHEMBL4203_Ki.csv").read_bytes())
    config = DemoConfig(
        fewshot=FewShotConfig(input=str(data), test_assays=["CHEMBL4203_Ki"], support_sizes=[16], draws=1,
                              methods=["knn_tanimoto"]),
        pretrain={"corpus": str(moleculeace_dir.parent / "moses" / "moses_train_50k.csv.gz"), "max_molecules": 100,
                  "epochs": 1, "batch_size": 32, "encoder": {"hidden_dim": 16, "num_layers": 1},
                  "decoder": {"latent_dim": 8, "hidden_dim": 16, "embedding_dim": 8},
                  "optim": {"sample_size": 10, "reconstruction_size": 5}},
        generate=5, output=str(tmp_path / "out"), jobs=1)
    outcome = run_demo(config, cache_dir=tmp_path / "cache")
    assert outcome.pretraining is not None and (outcome.pretraining.model_dir / "generator.safetensors").exists()
    assert len(outcome.generated) == 5
    assert pd.read_csv(tmp_path / "out" / "generated.csv", keep_default_na=False)["smiles"].tolist() == outcome.generated
    child = mlflow.get_run(outcome.pretraining.run_id)
    assert child.data.tags["mlflow.parentRunId"] == outcome.run_id
