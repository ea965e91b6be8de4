"""Scoring molecules with an adapted few-shot model (used by ``molprior predict``, the
MLflow pyfunc model and Spark batch scoring alike)."""
