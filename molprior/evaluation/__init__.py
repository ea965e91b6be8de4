"""Evaluation protocols, metrics and plots (no MLflow: runs are logged by the caller)."""
