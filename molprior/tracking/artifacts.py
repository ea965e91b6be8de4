"""Where a model lives: a local directory, an MLflow run or registry URI, or the shipped prior.

``resolve_model_dir`` turns any of them into a local directory; MLflow URIs are downloaded
with ``mlflow.artifacts.download_artifacts`` (weights are safetensors, so nothing is
unpickled on the way in).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

SHIPPED_PRIOR = Path(__file__).resolve().parents[1] / "priors" / "default"
MARKERS = {"generator": "generator.json", "encoder": "encoder.json", "fewshot": "model.json"}


def resolve_model_dir(model: str | Path | None, kind: str = "generator") -> Path:
    """A local directory holding a ``kind`` model ("generator", "encoder" or "fewshot").

    ``model`` may be ``None`` (the shipped prior), a model directory, a pretraining output
    directory (its ``model/`` is used), or an MLflow URI such as ``runs:/<id>/model``,
    ``runs:/<id>/encoder`` or ``models:/NAME@ALIAS``.
    """
    marker = MARKERS[kind]
    if model is None:
        if not (SHIPPED_PRIOR / marker).exists() and not (SHIPPED_PRIOR / "encoder" / marker).exists():
            raise FileNotFoundError(f"no shipped prior in {SHIPPED_PRIOR}; pass --model")
        return SHIPPED_PRIOR
    return _find(local_model_dir(model), marker, str(model))


def local_model_dir(model: str | Path) -> Path:
    """``model`` itself when it is a local path, else its MLflow artifacts downloaded to a
    temporary directory."""
    text = str(model)
    if text.startswith(("runs:/", "models:/", "mlflow-artifacts:/")):
        import mlflow

        from molprior.tracking.runs import quiet_mlflow, tracking_uri

        quiet_mlflow()
        mlflow.set_tracking_uri(tracking_uri())
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=text, dst_path=tempfile.mkdtemp(prefix="molprior-")))
    path = Path(model)
    if not path.exists():
        raise FileNotFoundError(f"no such model directory: {path}")
    return path


def _find(path: Path, marker: str, name: str) -> Path:
    # a model directory, a pretraining output, or a packaged pyfunc model (its meta-trained model)
    for candidate in (path, path / "model", path / "encoder", path / "model" / "encoder", path / "artifacts" / "fewshot"):
        if (candidate / marker).exists():
            return candidate
    raise FileNotFoundError(f"{name} holds no {marker}: not a molprior model")
