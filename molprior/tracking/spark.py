"""Batch scoring of a packaged molprior model on Apache Spark, with MLflow's own
:func:`mlflow.pyfunc.spark_udf`.

:func:`score_with_spark` turns any MLflow URI of a molprior pyfunc model (``models:/NAME@ALIAS``,
``models:/NAME/VERSION``, ``runs:/ID/model``, a directory) into a pandas UDF whose result is a
struct of the model's output columns, applies it to a Spark DataFrame's SMILES column and
returns the DataFrame with every input row and column plus the score (``probability_active``
or ``value``), ``uncertainty``, ``support_similarity`` and ``error``, as ``molprior predict`` writes them.
Rows are matched to their scores inside each row, never by position, so the result does not
depend on partitioning or row order (Spark keeps none).

pyspark is imported inside the functions only: molprior imports without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from molprior.errors import InputError
from molprior.tracking.runs import quiet_mlflow, check_tracking_server, tracking_uri

#: Columns of the model's output that are the input's own (the SMILES as given, the assay
#: asked for); the others (scores, ``support_similarity``, ``error``) are added to the frame.
ECHOED = ("smiles", "assay")
#: Name of the temporary struct column that holds one row's model output.
RESULT_COLUMN = "__molprior_result"
_SPARK_TYPES = {"string": "StringType", "double": "DoubleType", "float": "FloatType", "long": "LongType",
                "integer": "IntegerType", "boolean": "BooleanType"}


class SparkScoringError(InputError):
    """A model or an input that cannot be scored on Spark as asked."""


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def model_outputs(model_uri: str) -> tuple[Any, dict[str, Any]]:
    """The Spark ``StructType`` of the model's output columns (from its signature) and the
    model's metadata (``default_assay``, ``assays``)."""
    import mlflow
    from pyspark.sql import types as T

    model = mlflow.models.Model.load(model_uri)  # its MLmodel file only (no lookup of the logged model)
    outputs = model.signature.outputs if model.signature is not None else None
    names = outputs.input_names() if outputs is not None and outputs.has_input_names() else []
    if "error" not in names or len(names) < 4:
        raise SparkScoringError(f"{model_uri} is not a molprior pyfunc model: its signature's outputs are {names} "
                                "(expected smiles, assay, the score, support_similarity and error)")
    fields = []
    for spec in outputs.inputs:
        kind = getattr(spec.type, "name", str(spec.type))
        if kind not in _SPARK_TYPES:
            raise SparkScoringError(f"{model_uri}: output column {spec.name!r} has type {kind}, not a scalar")
        fields.append(T.StructField(spec.name, getattr(T, _SPARK_TYPES[kind])(), True))
    return T.StructType(fields), dict(model.metadata or {})


def score_with_spark(spark, model_uri: str, frame, smiles_column: str | None = None, assay: str | None = None,
                     env_manager: str = "local"):
    """``frame`` (a Spark DataFrame) with the scores of ``model_uri`` for its SMILES column.

    The result has every input column (minus any the scores replace), then the score column(s)
    of the model, ``support_similarity`` and ``error`` (empty when the row was scored; a row
    that could not be scored has no score).  ``smiles_column``: the column's name (any case),
    else the first of ``smiles``, ``canonical_smiles``, ... present.  ``assay``: for a model
    with several adapted heads, which one (default: the model's default assay).  Nothing runs
    until the result is written or collected; the model is downloaded once, on the driver.
    """
    import mlflow
    import pandas as pd
    from pyspark.sql import functions as F

    from molprior.data.readers import SMILES_ALIASES, find_column

    quiet_mlflow()
    check_tracking_server()
    mlflow.set_tracking_uri(tracking_uri())  # spark_udf hands the driver's URI to the workers
    column = find_column(pd.DataFrame(columns=frame.columns), smiles_column, "smiles", Path("the input"),
                         SMILES_ALIASES)
    result_type, metadata = model_outputs(model_uri)
    assays = metadata.get("assays")
    if assay is not None and assays and assay not in assays:
        raise SparkScoringError(f"{model_uri} has no head for assay {assay!r}; it scores {sorted(assays)}")
    udf = mlflow.pyfunc.spark_udf(spark, model_uri, result_type=result_type, env_manager=env_manager,
                                  params={"assay": assay} if assay is not None else None)
    # A struct with one field named as the model's input column: the UDF receives a pandas
    # DataFrame with a `smiles` column.  A missing SMILES is scored as "" (an error row).
    smiles = F.coalesce(F.col(_quote(column)).cast("string"), F.lit("")).alias("smiles")
    added = [name for name in result_type.fieldNames() if name not in ECHOED]
    kept = [name for name in frame.columns if name not in added and name != RESULT_COLUMN]
    scored = frame.withColumn(RESULT_COLUMN, udf(F.struct(smiles)))
    return scored.select(*[F.col(_quote(name)) for name in kept],
                         *[F.col(RESULT_COLUMN).getField(name).alias(name) for name in added])
