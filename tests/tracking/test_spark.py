"""Batch scoring on Spark (local[2]) with MLflow's ``spark_udf``: a registered molprior model
(``models:/NAME@champion``) scores real MoleculeACE molecules plus broken SMILES, and the
scores are those ``molprior predict`` gives for the same molecules and the same URI."""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pipelines" / "score_spark.py"
MOLECULES = ROOT / "data" / "moleculeace" / "CHEMBL214_Ki.csv"
MODEL_NAME = "molprior-spark"
ASSAY = "CHEMBL2047_EC50"
URI = f"models:/{MODEL_NAME}@champion"
# pandas 3 works with pyspark 4.3 here (the scores are checked), though pyspark warns it is not yet supported
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning")
BAD = ["not a molecule", "C1CC(", "c1cccc1X", ""]  # unparseable, unclosed ring, unknown atom, empty


@pytest.fixture(scope="module")
def spark_store(tmp_path_factory, fewshot_models) -> str:
    """A tracking store for this module: the fixture's adapted model packaged as a pyfunc,
    registered as MODEL_NAME and promoted to @champion."""
    from molprior.tracking.pyfunc import log_fewshot_pyfunc
    from molprior.tracking.registry import promote
    from molprior.tracking.runs import tracked_run

    meta_dir, adapted_dir = fewshot_models
    base = tmp_path_factory.mktemp("spark-store")
    store = f"sqlite:///{base / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", store)
        mp.chdir(base)  # artifacts in base/mlartifacts
        with tracked_run("register"):
            info = log_fewshot_pyfunc(meta_dir, {ASSAY: adapted_dir}, registered_model_name=MODEL_NAME)
        promote(MODEL_NAME, info.registered_model_version, "champion")
    return store


@pytest.fixture(scope="module")
def spark(spark_store, tmp_path_factory):
    """pyspark in local[2], small and quiet, its Python workers on this interpreter with the
    module's tracking URI and one torch thread; stopped at the end of the module."""
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        pytest.fail("Spark needs Java 17+, and there is no `java` on PATH and no JAVA_HOME: install a JDK "
                    "(e.g. apt-get install openjdk-17-jre-headless)")
    from pyspark.sql import SparkSession

    cache = tmp_path_factory.mktemp("spark-cache")
    worker_env = {"MLFLOW_TRACKING_URI": spark_store, "MOLPRIOR_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1",
                  "MKL_NUM_THREADS": "1"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        mp.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        mp.setenv("SPARK_LOCAL_IP", "127.0.0.1")
        builder = (SparkSession.builder.master("local[2]").appName("molprior-test-spark")
                   .config("spark.driver.memory", "1g")
                   # a short-lived test JVM: starts seconds faster with the C1 compiler and serial GC
                   .config("spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")
                   .config("spark.ui.enabled", "false")
                   .config("spark.sql.shuffle.partitions", "2")
                   .config("spark.default.parallelism", "2")
                   .config("spark.driver.host", "127.0.0.1")
                   .config("spark.driver.bindAddress", "127.0.0.1")
                   .config("spark.pyspark.python", sys.executable)
                   .config("spark.python.worker.faulthandler.enabled", "true")
                   .config("spark.sql.session.timeZone", "UTC"))
        for key, value in worker_env.items():
            builder = builder.config(f"spark.executorEnv.{key}", value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


@pytest.fixture
def champion(spark_store, monkeypatch) -> str:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", spark_store)
    return URI


def molecules(path: Path, n: int) -> pd.DataFrame:
    """``n`` real molecules of CHEMBL214_Ki with every column of the file, an ``id``, and the
    broken SMILES in between."""
    frame = pd.read_csv(MOLECULES).head(n)
    rows = frame.to_dict("records")
    for k, smiles in enumerate(BAD):
        rows.insert(7 + 11 * k, {**rows[0], "smiles": smiles})
    frame = pd.DataFrame(rows)
    frame.insert(0, "id", [f"m{i:04d}" for i in range(len(frame))])
    frame.to_csv(path, index=False)
    return frame


def predict_output(model: str, path: Path, tmp_path: Path, assay: str | None = None) -> pd.DataFrame:
    from molprior.workflows.predict import run_predict

    out = tmp_path / f"predict-{path.stem}.csv"
    run_predict(model, path, out, assay=assay)
    return pd.read_csv(out, keep_default_na=False, dtype={"id": str}).set_index("id")


def check_same_scores(spark_rows: pd.DataFrame, expected: pd.DataFrame, score: str = "probability_active") -> None:
    spark_rows = spark_rows.set_index("id")
    assert spark_rows.index.is_unique
    assert sorted(spark_rows.index) == sorted(expected.index)  # every row once, none invented
    spark_rows = spark_rows.loc[expected.index]
    errors = spark_rows["error"].fillna("").astype(str)
    assert errors.tolist() == expected["error"].astype(str).tolist()
    bad = expected["smiles"].isin(BAD)
    assert bad.sum() == len(BAD) and (errors[bad.to_numpy()] != "").all()
    assert spark_rows.loc[bad, score].isna().all() and spark_rows.loc[bad, "support_similarity"].isna().all()
    good = (expected["error"] == "").to_numpy()
    assert good.sum() >= len(expected) - len(BAD) - 3  # real molecules score (almost) all
    want = pd.to_numeric(expected.loc[good, score]).to_numpy()
    got = spark_rows.loc[good, score].astype(float).to_numpy()
    assert np.all((got >= 0) & (got <= 1))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    np.testing.assert_allclose(spark_rows.loc[good, "support_similarity"].astype(float).to_numpy(),
                               pd.to_numeric(expected.loc[good, "support_similarity"]).to_numpy(), rtol=0, atol=1e-6)
    assert np.unique(np.round(got, 4)).size > 10  # real scores, not a constant


def test_workers_see_the_tracking_uri_and_one_torch_thread(spark, spark_store):
    def probe(_):
        import torch

        yield os.environ.get("MLFLOW_TRACKING_URI"), torch.get_num_threads()

    seen = spark.sparkContext.parallelize(range(2), 2).mapPartitions(probe).collect()
    assert seen == [(spark_store, 1), (spark_store, 1)]


def test_spark_udf_scores_equal_molprior_predict(spark, champion, tmp_path):
    from pyspark.sql import functions as F

    from molprior.tracking.spark import score_with_spark

    path = tmp_path / "library.csv"
    frame = molecules(path, 300)
    inputs = (spark.read.option("header", True).option("escape", '"').csv(str(path))
              .repartition(2))  # both cores, and rows leave their file order
    scored = score_with_spark(spark, champion, inputs, smiles_column="SMILES")  # case-insensitive
    assert scored.columns == [*frame.columns, "probability_active", "uncertainty", "support_similarity", "error"]
    rows = pd.DataFrame([r.asDict() for r in scored.collect()])

    assert len(rows) == len(frame) == 300 + len(BAD)
    check_same_scores(rows, predict_output(champion, path, tmp_path))
    # every input column comes back unchanged, and a missing SMILES is an error row, not a failed job
    assert rows.set_index("id").loc[frame["id"], "exp_mean [nM]"].astype(float).tolist() == \
        frame["exp_mean [nM]"].astype(float).tolist()
    with_null = inputs.withColumn("smiles", F.when(F.col("id") == "m0000", F.lit(None)).otherwise(F.col("smiles")))
    first = score_with_spark(spark, champion, with_null.filter("id IN ('m0000', 'm0001')"), "smiles").collect()
    by_id = {r["id"]: r for r in first}
    assert by_id["m0000"]["error"] and by_id["m0000"]["probability_active"] is None
    assert by_id["m0001"]["error"] == "" and by_id["m0001"]["probability_active"] is not None


def test_an_unknown_assay_is_refused_before_any_spark_job(spark, champion):
    from molprior.tracking.spark import SparkScoringError, score_with_spark

    frame = spark.createDataFrame([("CCO",)], ["smiles"])
    with pytest.raises(SparkScoringError, match="no head for assay 'CHEMBL0'"):
        score_with_spark(spark, champion, frame, assay="CHEMBL0")


def test_score_spark_script_parquet_in_csv_out(spark, champion, tmp_path):
    """The data engineer's script: Parquet in (SMILES in a column named ``SMILES``), the
    model's assay named with ``--assay``, a CSV directory out."""
    spec = importlib.util.spec_from_file_location("score_spark", SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)

    frame = molecules(tmp_path / "library.csv", 40)
    frame.rename(columns={"smiles": "SMILES"}).to_parquet(tmp_path / "library.parquet", index=False)
    out = tmp_path / "scores.csv"
    assert script.main(["--model", champion, "--input", str(tmp_path / "library.parquet"), "--output", str(out),
                        "--smiles-column", "SMILES", "--assay", ASSAY, "--partitions", "2"]) == 0
    assert not spark.sparkContext._jsc.sc().isStopped()  # the caller's session is left running
    parts = sorted(out.glob("part-*.csv"))
    assert parts
    rows = pd.concat([pd.read_csv(p, keep_default_na=False, dtype={"id": str}) for p in parts])
    assert list(rows.columns) == ["id", "SMILES", *frame.columns[2:], "probability_active", "uncertainty", "support_similarity",
                                  "error"]
    rows["probability_active"] = pd.to_numeric(rows["probability_active"]).where(rows["error"] == "")
    rows["support_similarity"] = pd.to_numeric(rows["support_similarity"]).where(rows["error"] == "")
    check_same_scores(rows, predict_output(champion, tmp_path / "library.csv", tmp_path, assay=ASSAY))
    with pytest.raises(Exception, match="already exists"):  # no silent overwrite
        script.main(["--model", champion, "--input", str(tmp_path / "library.parquet"), "--output", str(out)])
