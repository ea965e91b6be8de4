"""Score a molecule library on Apache Spark with a registered molprior model.

    python pipelines/score_spark.py --model models:/my-assay@champion --input library.parquet --output scores/
    python pipelines/score_spark.py --model models:/my-assay/3 --input library.csv --smiles-column SMILES \\
        --output scores.csv --master 'local[8]'
    spark-submit --master yarn pipelines/score_spark.py --model models:/my-assay@champion \\
        --input hdfs:///libraries/enamine.parquet --output hdfs:///scores/enamine

The model is any MLflow URI of a molprior pyfunc model; scoring is MLflow's own
``mlflow.pyfunc.spark_udf`` (``env_manager="local"``: the executors' Python must have the
model's requirements, see its ``requirements.txt``).  ``--input``: Parquet, or CSV with a header
(every column read as text); ``--output``: a directory written by Spark, Parquet unless it
ends in ``.csv`` or ``--format csv``.  Each input row comes out once with all its columns, the
score (``probability_active`` or ``value``), ``support_similarity`` and ``error``; Spark does
not keep row order, so carry an identifier column in the input.
"""

from __future__ import annotations

import argparse
import sys
import time

#: Set to 1 on the executors (unless the Spark configuration sets them): Spark's cores do the
#: parallelism, one Python worker per core, so torch in each must not start a thread per core.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="MLflow model URI: models:/NAME@ALIAS, models:/NAME/VERSION, "
                        "runs:/ID/model or a directory")
    parser.add_argument("--input", required=True, help="Parquet file/directory, or CSV with a header")
    parser.add_argument("--output", required=True, help="output directory (written by Spark)")
    parser.add_argument("--smiles-column", help="the column holding SMILES (default: smiles, canonical_smiles, ...)")
    parser.add_argument("--assay", help="for a model with several adapted heads: which one (default: its default)")
    parser.add_argument("--master", help="Spark master (default: local[*]; under spark-submit, its --master)")
    parser.add_argument("--input-format", choices=("csv", "parquet"), help="default: from the input's name")
    parser.add_argument("--format", choices=("csv", "parquet"), help="output format (default: csv if --output "
                        "ends in .csv, else parquet)")
    parser.add_argument("--partitions", type=int, help="score in this many partitions (default: the input's, "
                        "at least Spark's default parallelism)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output directory")
    return parser.parse_args(argv)


def _format(path: str, given: str | None) -> str:
    if given:
        return given
    name = path.rstrip("/").lower()
    return "csv" if name.endswith((".csv", ".csv.gz")) else "parquet"


def _read(spark, path: str, kind: str):
    """A CSV (header, every column as text, RFC 4180 quoting) or Parquet input."""
    if kind == "csv":
        return spark.read.option("header", True).option("escape", '"').csv(path)
    return spark.read.parquet(path)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    from molprior.tracking.spark import score_with_spark

    owned = SparkSession.getActiveSession() is None  # else a caller's session: leave it running
    builder = SparkSession.builder.appName("molprior-score")
    if args.master:
        builder = builder.master(args.master)
    for name in THREAD_VARIABLES if owned else ():  # one torch thread per Python worker, unless configured
        if not SparkConf().contains(f"spark.executorEnv.{name}"):
            builder = builder.config(f"spark.executorEnv.{name}", "1")
    spark = builder.getOrCreate()  # no --master: spark-submit's, else local[*]
    started = time.perf_counter()
    try:
        frame = _read(spark, args.input, _format(args.input, args.input_format))
        partitions = frame.rdd.getNumPartitions()
        wanted = args.partitions or max(partitions, spark.sparkContext.defaultParallelism)
        if wanted != partitions:
            frame = frame.repartition(wanted)
        scored = score_with_spark(spark, args.model, frame, args.smiles_column, args.assay)
        writer = scored.write.mode("overwrite" if args.overwrite else "errorifexists")
        output_format = _format(args.output, args.format)
        if output_format == "csv":
            writer.option("header", True).option("escape", '"').csv(args.output)
        else:
            writer.parquet(args.output)
        written = _read(spark, args.output, output_format)
        rows = written.count()
        errors = written.filter("error IS NOT NULL AND error != ''").count()
        print(f"scored {rows - errors} of {rows} rows ({errors} with an error) in "
              f"{time.perf_counter() - started:.1f} s -> {args.output}")
    finally:
        if owned:
            spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
