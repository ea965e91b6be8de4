"""Plots of benchmark results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from molprior.files import atomic_path


def _pyplot():
    """matplotlib's pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    _pyplot().close(figure)
    return path


def plot_metric_vs_support(summary: pd.DataFrame, path: str | Path, metric: str = "delta_auprc") -> Path:
    """One line per method: ``metric`` (mean ± std over assays) against support size."""
    import matplotlib

    plt = _pyplot()
    rows = summary[summary["metric"] == metric]
    figure, axis = plt.subplots(figsize=(6, 4))
    for method, group in rows.groupby("method", sort=False):
        group = group.sort_values("support_size")
        axis.errorbar(group["support_size"], group["mean"], yerr=group["std"], marker="o", capsize=3, label=method)
    axis.set_xscale("log", base=2)
    axis.set_xticks(sorted(rows["support_size"].unique()))
    axis.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    axis.set_xlabel("support size (molecules)")
    axis.set_ylabel({"delta_auprc": "ΔAUPRC", "roc_auc": "ROC-AUC"}.get(metric, metric))
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def plot_loss_curves(history: list[dict[str, float]], path: str | Path) -> Path:
    """Training and validation loss per epoch (``history``: one dict of metrics per epoch)."""
    figure, axis = _pyplot().subplots(figsize=(6, 4))
    for key, label in (("train_loss", "train"), ("val_loss", "validation"), ("train_reconstruction", "train (recon.)"),
                       ("val_reconstruction", "validation (recon.)")):
        points = [(h["epoch"], h[key]) for h in history if key in h]
        if points:
            epochs, values = zip(*points)
            axis.plot(epochs, values, marker="o", label=label, linestyle="-" if "loss" in key else "--")
    axis.set_xlabel("epoch")
    axis.set_ylabel("loss")
    axis.legend()
    axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)


def plot_meta_training(history: list[dict[str, float]], path: str | Path) -> Path:
    """Meta-training loss and meta-validation ΔAUPRC against outer steps (step 0: before
    meta-training)."""
    figure, loss_axis = _pyplot().subplots(figsize=(6, 4))
    trained = [h for h in history if "train_loss" in h]
    if trained:
        loss_axis.plot([h["step"] for h in trained], [h["train_loss"] for h in trained], marker="o", color="tab:blue",
                       label="meta-training query loss")
    loss_axis.set_xlabel("outer steps")
    loss_axis.set_ylabel("query loss", color="tab:blue")
    score_axis = loss_axis.twinx()
    scored = [h for h in history if "val_delta_auprc" in h]
    score_axis.plot([h["step"] for h in scored], [h["val_delta_auprc"] for h in scored], marker="s", color="tab:red",
                    label="meta-validation ΔAUPRC")
    score_axis.set_ylabel("meta-validation ΔAUPRC", color="tab:red")
    loss_axis.grid(alpha=0.3)
    figure.tight_layout()
    return _save(figure, path)
