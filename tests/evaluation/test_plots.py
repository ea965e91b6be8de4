"""Plots of results and training histories (molprior.evaluation.plots): the few-shot benchmark's
metric against support size from a real protocol run, the shipped prior's loss curves, and a
meta-training history as the outer loop records it; what each figure draws, and how it is
written (format by suffix, atomically, the figure closed afterwards)."""

from __future__ import annotations

import json

import matplotlib.image
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from molprior.chem.standardize import canonical_smiles
from molprior.data.tasks import FewShotTask
from molprior.evaluation.fewshot import BASELINES, run_fewshot, summarize
from molprior.evaluation.plots import plot_loss_curves, plot_meta_training, plot_metric_vs_support
from molprior.tracking.artifacts import SHIPPED_PRIOR

ASSAYS = ["CHEMBL4203_Ki", "CHEMBL2047_EC50"]
SIZES = [16, 64]
#: A meta-training history as the outer loop records it: the untrained start (step 0, no
#: training loss yet), then one entry per validation.
META_HISTORY = [{"epoch": -1, "step": 0, "val_delta_auprc": 0.127, "val_roc_auc": 0.61},
                {"epoch": 0, "step": 100, "val_delta_auprc": 0.151, "val_roc_auc": 0.64, "train_loss": 0.684},
                {"epoch": 1, "step": 200, "val_delta_auprc": 0.188, "val_roc_auc": 0.67, "train_loss": 0.642},
                {"epoch": 2, "step": 300, "val_delta_auprc": 0.213, "val_roc_auc": 0.69, "train_loss": 0.611}]


@pytest.fixture(scope="module")
def summary(moleculeace_dir):
    """The protocol's results table for two real assays (actives: above the assay's median),
    both baselines, support sizes 16 and 64, two draws; its rows shuffled (the plot orders them
    itself)."""
    tasks = []
    for assay in ASSAYS:
        frame = pd.read_csv(moleculeace_dir / f"{assay}.csv")
        frame = frame.assign(smiles=[canonical_smiles(s) for s in frame["smiles"]]).groupby("smiles", as_index=False)["y"].mean()
        tasks.append(FewShotTask(assay, frame["smiles"].tolist(), (frame["y"] >= frame["y"].median()).to_numpy(float)))
    per_draw = run_fewshot(tasks, SIZES, BASELINES, n_draws=2, seed=0)
    return summarize(per_draw).sample(frac=1.0, random_state=0)


@pytest.fixture
def figures(monkeypatch):
    """The figures the plots close once written, kept open to be looked at (closed afterwards)."""
    kept = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda figure=None: kept.append(figure))
    yield kept
    for figure in kept:
        close(figure)


def _lines(axis) -> dict[str, np.ndarray]:
    """Each labelled line of ``axis`` as its (x, y) points."""
    return {line.get_label(): line.get_xydata() for line in axis.get_lines() if not line.get_label().startswith("_")}


def test_one_errorbar_line_per_method_against_support_size(summary, figures, tmp_path):
    path = plot_metric_vs_support(summary, tmp_path / "delta_auprc.png")
    assert path == tmp_path / "delta_auprc.png"
    assert matplotlib.image.imread(path).shape[:2] == (480, 720)  # 6 x 4 inches at 120 dpi
    axis = figures[-1].axes[0]
    rows = summary[summary["metric"] == "delta_auprc"]
    lines = {c.get_label(): c for c in axis.containers}  # errorbar containers: line, caps, bars
    assert sorted(lines) == sorted(BASELINES)
    for method, container in lines.items():
        expected = rows[rows["method"] == method].sort_values("support_size")
        np.testing.assert_array_equal(container.lines[0].get_xydata(), expected[["support_size", "mean"]].to_numpy())
        bars = container.lines[2][0].get_segments()  # mean ± std at each support size
        np.testing.assert_allclose([segment[:, 1] for segment in bars],
                                   np.stack([expected["mean"] - expected["std"], expected["mean"] + expected["std"]], 1))
    assert axis.get_xscale() == "log" and [t.get_text() for t in axis.get_xticklabels()] == ["16", "64"]
    assert axis.get_xlabel() == "support size (molecules)" and axis.get_ylabel() == "ΔAUPRC"
    assert [t.get_text() for t in axis.get_legend().get_texts()] == list(dict.fromkeys(rows["method"]))


def test_another_metric_is_plotted_alone_under_its_own_label(summary, figures, tmp_path):
    plot_metric_vs_support(summary, tmp_path / "roc_auc.png", metric="roc_auc")
    axis = figures[-1].axes[0]
    assert axis.get_ylabel() == "ROC-AUC"
    rows = summary[summary["metric"] == "roc_auc"]
    for container in axis.containers:
        means = rows[rows["method"] == container.get_label()].sort_values("support_size")["mean"]
        np.testing.assert_array_equal(container.lines[0].get_ydata(), means.to_numpy())
    plot_metric_vs_support(summary.assign(metric="ece"), tmp_path / "ece.png", metric="ece")
    assert figures[-1].axes[0].get_ylabel() == "ece"  # a metric without a label of its own: its name


def test_the_shipped_priors_loss_curves(figures, tmp_path):
    history = json.loads((SHIPPED_PRIOR / "training_history.json").read_text())
    plot_loss_curves(history, tmp_path / "loss_curves.png")
    axis = figures[-1].axes[0]
    lines = _lines(axis)
    names = {"train": "train_loss", "validation": "val_loss", "train (recon.)": "train_reconstruction",
             "validation (recon.)": "val_reconstruction"}
    assert sorted(lines) == sorted(names)
    for label, key in names.items():
        np.testing.assert_array_equal(lines[label], [(h["epoch"], h[key]) for h in history])
    styles = {line.get_label(): line.get_linestyle() for line in axis.get_lines()}
    assert styles["train"] == styles["validation"] == "-" and styles["train (recon.)"] == "--"
    assert (axis.get_xlabel(), axis.get_ylabel()) == ("epoch", "loss")


def test_loss_curves_draw_only_the_epochs_that_have_each_loss(figures, tmp_path):
    """A validation every other epoch, and no reconstruction term (not a generative model)."""
    history = [{"epoch": e, "train_loss": 1.0 / (e + 1), **({"val_loss": 1.2 / (e + 1)} if e % 2 else {})}
               for e in range(6)]
    plot_loss_curves(history, tmp_path / "loss_curves.png")
    lines = _lines(figures[-1].axes[0])
    assert sorted(lines) == ["train", "validation"]
    np.testing.assert_array_equal(lines["validation"][:, 0], [1, 3, 5])


def test_meta_training_loss_and_validation_score_share_the_outer_steps(figures, tmp_path):
    plot_meta_training(META_HISTORY, tmp_path / "meta_training.png")
    loss_axis, score_axis = figures[-1].axes  # the score on a twin axis of its own scale
    np.testing.assert_array_equal(_lines(loss_axis)["meta-training query loss"],
                                  [(100, 0.684), (200, 0.642), (300, 0.611)])  # no loss before training
    np.testing.assert_array_equal(_lines(score_axis)["meta-validation ΔAUPRC"],
                                  [(0, 0.127), (100, 0.151), (200, 0.188), (300, 0.213)])  # the start included
    assert loss_axis.get_xlabel() == "outer steps" and score_axis.get_ylabel() == "meta-validation ΔAUPRC"


def test_a_plot_is_written_in_the_format_of_its_suffix_over_the_old_one_and_closed(tmp_path):
    before = set(plt.get_fignums())
    starts = {"meta_training.pdf": b"%PDF", "meta_training.svg": b"<?xml", "meta_training": b"\x89PNG"}
    for name, start in starts.items():
        (tmp_path / name).write_text("an older plot\n")
        plot_meta_training(META_HISTORY, tmp_path / name)
        assert (tmp_path / name).read_bytes().startswith(start), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(starts)  # no temporary file left behind
    assert set(plt.get_fignums()) == before  # every figure closed: none piles up over a long benchmark
