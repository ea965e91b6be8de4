"""molprior models as MLflow ``pyfunc`` models: one packaged-model class for every kind.

A packaged model holds everything scoring needs and nothing of training, plus molprior's own
code (``code/molprior/``, without the shipped priors), so it loads with plain ``mlflow`` and the
pinned requirements.  Its Python model is defined by code (:mod:`molprior.tracking.pyfunc_model`),
not pickled: it recognises the model's kind by its artifacts (:data:`PACKAGED_KINDS`), loads the
kind's scorer (every model directory checked against its ``checksums.json`` first) and scores a
table with one output row per input row, a row's problem being that row's ``error``.  The kinds:

``fewshot`` (this module)
    ``artifacts/fewshot/``, the meta-trained model (``molprior adapt --model models:/NAME@ALIAS``
    starts from it), and ``artifacts/heads/<assay>/``, that model adapted to an assay (weights,
    support set), one per assay it scores, named by ``heads.json`` with the default.  Input: a
    ``smiles`` column (and optionally ``assay``, or the ``assay`` parameter); output: ``smiles``,
    ``assay``, the score (``probability_active`` or ``value``), ``uncertainty``,
    ``support_similarity`` and ``error``.
``mhc`` (:mod:`molprior.tracking.mhc_pyfunc`)
    ``artifacts/mhc/``, the MHC class I predictor; input ``peptide`` and ``allele`` columns,
    output the columns of ``molprior peptides score``.
"""

from __future__ import annotations

import importlib
import json
import logging
import shutil
import tempfile
from dataclasses import dataclass
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any, Mapping, Protocol, Sequence

import pandas as pd

import molprior
from molprior.errors import InputError
from molprior.files import verify_manifest, write_text
from molprior.inference.isolation import score_isolating_failures
from molprior.inference.assay_scoring import SUPPORT_FILE, UNCERTAINTY, AssayScorer
from molprior.serialization import ModelFormatError, read_json_object

log = logging.getLogger(__name__)

HEADS_INDEX = "heads.json"
MODEL_CODE = Path(__file__).with_name("pyfunc_model.py")
#: What scoring imports (no Lightning, no deepchem); pinned to the versions installed here.
REQUIREMENTS = ("torch", "torch-geometric", "rdkit", "numpy", "pandas", "scipy", "scikit-learn", "safetensors",
                "selfies", "PyYAML", "mlflow")


class PackagedScorer(Protocol):
    """What a kind's loader returns: scores a table, one output row per input row, in order."""

    def score(self, frame: pd.DataFrame, **params: Any) -> pd.DataFrame: ...


@dataclass(frozen=True)
class PackagedKind:
    """One kind of packaged model: the artifact that marks it (and holds what it scores with),
    its loader (``"module:function"``, imported when a model of the kind loads: artifacts by
    name -> :class:`PackagedScorer`) and the column a bare list of inputs becomes (``None``
    where a list alone cannot be scored)."""

    artifact: str
    loader: str
    list_column: str | None = None


#: The registered kinds, by name (``molprior_kind`` in a packaged model's metadata).
PACKAGED_KINDS: dict[str, PackagedKind] = {
    "fewshot": PackagedKind("heads", "molprior.tracking.pyfunc:load_fewshot", list_column="smiles"),
    "mhc": PackagedKind("mhc", "molprior.tracking.mhc_pyfunc:load_mhc"),
}


def packaged_kind(artifacts: Mapping[str, str]) -> PackagedKind:
    """The kind of a packaged model with these artifacts."""
    for kind in PACKAGED_KINDS.values():
        if kind.artifact in artifacts:
            return kind
    raise ModelFormatError(f"not a molprior packaged model: its artifacts are {sorted(artifacts)}; "
                           f"expected one of {sorted(k.artifact for k in PACKAGED_KINDS.values())}")


def load_packaged(artifacts: Mapping[str, str]) -> PackagedScorer:
    """The scorer of a packaged model, from its artifacts (name -> local path)."""
    module, function = packaged_kind(artifacts).loader.split(":")
    return getattr(importlib.import_module(module), function)(artifacts)


def request_frame(model_input: Any, artifacts: Mapping[str, str]) -> pd.DataFrame:
    """A request as a table: a frame as it is, a mapping of columns, or a bare list (or column)
    of inputs where the model's kind names the column it fills."""
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, Mapping):
        return pd.DataFrame(model_input)
    column = packaged_kind(artifacts).list_column
    if column is None:
        raise InputError("this model scores a table with named columns, not a bare list")
    return pd.DataFrame({column: list(model_input)})


def load_fewshot(artifacts: Mapping[str, str]) -> "ScoringModel":
    """The scorer of a packaged few-shot model: its adapted heads."""
    return ScoringModel(artifacts["heads"])


class ScoringModel:
    """Every adapted head of a packaged model; scores a table of molecules."""

    def __init__(self, heads_dir: str | Path) -> None:
        heads_dir = Path(heads_dir)
        index_file = heads_dir / HEADS_INDEX
        index = read_json_object(index_file)
        if not isinstance(index.get("default"), str) or not isinstance(index.get("assays"), dict):
            raise ModelFormatError(f"{index_file}: not a heads index (needs 'default' and an 'assays' table)")
        self.default_assay: str = index["default"]
        self.directories = {assay: heads_dir / str(sub) for assay, sub in index["assays"].items()}
        self.scorers: dict[str, AssayScorer] = {}
        for assay, directory in self.directories.items():
            verify_manifest(directory, required=True)
            self.scorers[assay] = AssayScorer.load(directory)

    @property
    def score_columns(self) -> list[str]:
        """The score columns its heads write (``probability_active`` and/or ``value``)."""
        return sorted({s.score_column for s in self.scorers.values()}, reverse=True)

    def score(self, frame: pd.DataFrame, assay: str | None = None) -> pd.DataFrame:
        """Rows of ``frame`` in order, scored by the head of their ``assay`` column (else
        ``assay``, else the default); an unknown assay or a bad SMILES is a per-row error."""
        if "smiles" not in frame.columns:
            raise InputError(f"the input needs a 'smiles' column; it has {list(frame.columns)}")
        wanted = assay or self.default_assay
        assays = frame["assay"].fillna(wanted).astype(str).replace("", wanted) if "assay" in frame else None
        assays = assays.tolist() if assays is not None else [wanted] * len(frame)
        columns = self.score_columns
        out = pd.DataFrame({"smiles": frame["smiles"].astype(object).where(frame["smiles"].notna(), "").astype(str)
                            .tolist(), "assay": assays})
        for column in columns:
            out[column] = float("nan")
        out[UNCERTAINTY] = float("nan")
        out["support_similarity"] = float("nan")
        out["error"] = ""
        for name in dict.fromkeys(assays):
            rows = [i for i, a in enumerate(assays) if a == name]
            scorer = self.scorers.get(name)
            if scorer is None:
                out.loc[rows, "error"] = f"unknown assay {name!r}; this model scores {sorted(self.scorers)}"
                continue
            scored = score_rows(scorer, out.loc[rows, "smiles"].tolist())
            out.loc[rows, scorer.output_columns] = scored[scorer.output_columns].to_numpy()
        for column in (*columns, UNCERTAINTY, "support_similarity"):
            out[column] = out[column].astype(float)
        return out


def score_rows(scorer: AssayScorer, smiles: list[str]) -> pd.DataFrame:
    """``scorer.score(smiles)`` (columns: :attr:`AssayScorer.output_columns`), one row per molecule in
    order whatever the molecules are: a batch the scorer fails on as a whole is scored again in
    halves (:func:`~molprior.inference.isolation.score_isolating_failures`), so only the
    molecules it fails on get an error, the others their scores."""
    columns = scorer.output_columns
    if not smiles:
        return pd.DataFrame({c: [] for c in columns})

    def failed(single: list[str], reason: str) -> pd.DataFrame:
        log.warning("cannot score %r: %s", single[0], reason)
        return pd.DataFrame({scorer.score_column: [float("nan")], UNCERTAINTY: [float("nan")],
                             "support_similarity": [float("nan")], "error": [f"cannot score: {reason}"]})

    return score_isolating_failures(lambda part: scorer.score(part)[columns], smiles, failed)


def request_error(error: Exception) -> Exception:
    """What a pyfunc model raises for a request it cannot score at all (a row's problem is that
    row's ``error``, never this): an ``MlflowException`` with a one-line message and no stack
    trace, so that a served model answers 400 for malformed input (500 otherwise) without
    exposing the server's code or paths.  Unexpected errors are logged here with their traceback."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR, INVALID_PARAMETER_VALUE

    if isinstance(error, MlflowException):
        return error
    message = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, (ValueError, KeyError, TypeError)):
        return MlflowException(f"invalid request: {message}", error_code=INVALID_PARAMETER_VALUE)
    log.error("cannot score the request", exc_info=error)
    return MlflowException(f"the model could not score the request: {message}", error_code=INTERNAL_ERROR)


def write_heads(adapted: Mapping[str, str | Path], directory: str | Path, default: str | None = None) -> Path:
    """Gather adapted model directories (assay -> directory) under ``directory`` with the
    index :data:`HEADS_INDEX`; checksums are verified on the way in."""
    directory = Path(directory)
    index = {"default": default or next(iter(adapted)), "assays": {}}
    for n, (assay, source) in enumerate(adapted.items()):
        verify_manifest(source, required=True)
        sub = f"head{n}"
        shutil.copytree(source, directory / sub)
        index["assays"][assay] = sub
    if index["default"] not in index["assays"]:
        raise InputError(f"default assay {index['default']!r} is not among the heads {list(index['assays'])}")
    write_text(json.dumps(index, indent=2) + "\n", directory / HEADS_INDEX)
    return directory


def requirements() -> list[str]:
    """The scoring dependencies, pinned to the installed versions."""
    return [f"{name}=={importlib_metadata.version(name)}" for name in REQUIREMENTS]


def bundle_code(directory: Path) -> Path:
    """A copy of the molprior package without the shipped prior or caches."""
    source = Path(molprior.__file__).parent
    target = directory / "molprior"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "priors"))
    return target


def signature(score_columns: Sequence[str], default_assay: str):
    """Input ``smiles`` (+ optional ``assay``), output scores and ``error``, parameter ``assay``."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "smiles"), ColSpec("string", "assay", required=False)])
    outputs = Schema([ColSpec("string", "smiles"), ColSpec("string", "assay"),
                      *[ColSpec("double", c) for c in score_columns], ColSpec("double", UNCERTAINTY),
                      ColSpec("double", "support_similarity"), ColSpec("string", "error")])
    return ModelSignature(inputs, outputs, ParamSchema([ParamSpec("assay", "string", default_assay)]))


def log_packaged(kind: str, artifacts: Mapping[str, str | Path], signature, input_example: pd.DataFrame,
                 metadata: Mapping[str, Any], name: str = "model", registered_model_name: str | None = None,
                 tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None,
                 extra_requirements: Sequence[str] = ()):
    """Log a packaged model of ``kind`` (``artifacts``: name -> prepared directory) as a pyfunc
    model of the active run, with molprior's code and the pinned requirements, registered as
    ``registered_model_name`` when given; returns MLflow's ``ModelInfo``."""
    import mlflow

    if PACKAGED_KINDS[kind].artifact not in artifacts:
        raise ValueError(f"a {kind} model needs the artifact {PACKAGED_KINDS[kind].artifact!r}")
    with tempfile.TemporaryDirectory(prefix="molprior-code-") as tmp:
        return mlflow.pyfunc.log_model(
            name=name, python_model=str(MODEL_CODE), artifacts={k: str(v) for k, v in artifacts.items()},
            code_paths=[str(bundle_code(Path(tmp)))], signature=signature, input_example=input_example,
            pip_requirements=[*requirements(), *extra_requirements], registered_model_name=registered_model_name,
            tags=dict(tags or {}), params=dict(params or {}), model_type=f"molprior-{kind}-pyfunc",
            metadata={"molprior_version": molprior.__version__, "molprior_kind": kind, **metadata})


def log_fewshot_pyfunc(meta_dir: str | Path, adapted: Mapping[str, str | Path], name: str = "model",
                       default_assay: str | None = None, registered_model_name: str | None = None,
                       tags: Mapping[str, str] | None = None, params: Mapping[str, Any] | None = None):
    """Log a meta-trained model with its adapted heads as a pyfunc model of the active run
    (registering it as ``registered_model_name`` when given); returns MLflow's ``ModelInfo``."""
    verify_manifest(meta_dir, required=True)
    with tempfile.TemporaryDirectory(prefix="molprior-pyfunc-") as tmp:
        tmp = Path(tmp)
        heads = write_heads(adapted, tmp / "heads", default_assay)
        fewshot = tmp / "fewshot"
        shutil.copytree(meta_dir, fewshot)
        model = ScoringModel(heads)
        support = pd.read_csv(model.directories[model.default_assay] / SUPPORT_FILE)
        return log_packaged("fewshot", {"fewshot": fewshot, "heads": heads},
                            signature(model.score_columns, model.default_assay),
                            pd.DataFrame({"smiles": support["smiles"].head(3)}),
                            {"default_assay": model.default_assay, "assays": sorted(model.scorers)}, name=name,
                            registered_model_name=registered_model_name, tags=tags, params=params)
