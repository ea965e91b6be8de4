"""Ship a meta-trained few-shot model as molprior/priors/fewshot (the model ``molprior adapt``,
``molprior predict --support``, the pipeline, the demo and the benchmark method ``molprior``
start from), with a model card written from measured results.

    molprior metatrain --config fsmol_adkf -o out/fsmol-adkf -j 2
    molprior benchmark fewshot --input dataset:fsmol --methods rf_ecfp,knn_tanimoto,molprior \\
        --model out/fsmol-adkf/model -o out/fsmol-test -j 2
    molprior benchmark fewshot --input dataset:fsmol --test-assays split:valid --methods molprior \\
        --model out/fsmol-adkf/model -o out/fsmol-valid -j 2
    python pipelines/ship_fewshot.py out/fsmol-adkf --test out/fsmol-test --valid out/fsmol-valid \\
        [--moleculeace out/moleculeace] [--minutes 52.3]

The card's tables are read from the benchmark outputs (``results.csv``, ``calibration.csv``),
never typed in.  The model's weights, description and record of its meta-training molecules
are copied as they are, and the directory gets a fresh checksums manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from molprior.data.leakage import SEEN_FILE, SEEN_SKELETONS_FILE, guard_counts, load_seen
from molprior.files import write_manifest, write_text
from molprior.tracking.artifacts import SHIPPED_FEWSHOT
from molprior.serialization import load_learner, read_json_object

MAX_MEGABYTES = 20
SHIPPED_FILES = ("model.safetensors", "model.json", SEEN_FILE)


def delta_auprc_table(results: pd.DataFrame) -> str:
    """Mean ΔAUPRC (± std over tasks) by method and support size, as a Markdown table."""
    rows = results[results["metric"] == "delta_auprc"]
    sizes = sorted(rows["support_size"].unique())
    lines = ["| method | " + " | ".join(f"{k}" for k in sizes) + " | tasks |",
             "|---" * (len(sizes) + 2) + "|"]
    for method, group in rows.groupby("method", sort=False):
        cells = {int(r.support_size): f"{r.mean:.3f} ± {r.std:.3f}" for r in group.itertuples()}
        lines.append(f"| {method} | " + " | ".join(cells.get(int(k), "") for k in sizes)
                     + f" | {int(group['n_tasks'].max())} |")
    return "\n".join(lines)


def calibration_table(calibration: pd.DataFrame) -> str:
    """ECE and the confident-half ΔAUPRC by support size, as a Markdown table."""
    lines = ["| support | tasks | ECE | ΔAUPRC, more confident half | ΔAUPRC, other half |", "|---|---|---|---|---|"]
    for r in calibration.itertuples():
        lines.append(f"| {r.support_size} | {r.n_tasks} | {r.ece:.3f} | {r.delta_auprc_confident:.3f} | "
                     f"{r.delta_auprc_uncertain:.3f} |")
    return "\n".join(lines)


#: How the shipped model is retrained, unless the ship command says otherwise (--recipe).
DEFAULT_RECIPE = ["molprior metatrain --config fsmol_adkf -o out/fsmol-adkf -j 2"]


def start_text(info: dict) -> str:
    """Where meta-training started, from the model's metadata (and its start's lineage)."""
    prior = info.get("prior", "")
    if prior == "shipped prior":
        return "Started from the generative prior's encoder (shipped prior); the encoder learned from the tasks."
    lineage = info.get("prior_lineage") or {}
    if not lineage:
        return f"Started from {prior}; the encoder learned from the tasks."
    return (f"Started from the {prior}: a model trained with the {lineage.get('objective')} objective "
            f"({lineage.get('steps_trained'):,} steps from the {lineage.get('prior')}, valid ΔAUPRC@16 "
            f"{lineage.get('best_val_delta_auprc'):.3f}; MLflow run {lineage.get('mlflow_run_id')}), its encoder "
            "and head both; the encoder learned from the tasks.")


def model_card(description: dict, test: Path, valid: Path, moleculeace: Path | None, minutes: float | None,
               guard: pd.DataFrame | None, n_seen: int, notes: list[str] = (),
               recipe: list[str] = tuple(DEFAULT_RECIPE)) -> str:
    """The model card's Markdown."""
    info = description.get("metadata", {})
    metrics = info.get("metrics", {})
    config = info.get("config", {})
    train, val = info.get("train_assays", []), info.get("val_assays", [])
    head, learner, encoder = description["head"], description["learner"], description["encoder"]
    guard_text = "no leak guard"
    if guard is not None and len(guard):
        left, dropped = guard_counts(guard[guard["role"] == "train"])
        against = ", ".join((info.get("leak_guard") or {}).get("against", []))
        fraction = (info.get("leak_guard") or {}).get("max_shared_fraction")
        guard_text = (f"Leak guard against {against}: {left} training tasks with more than {fraction:.0%} of their "
                      f"molecules there were left out, and {dropped:,} such molecules were dropped from the rest")
    sections = [
        "# molprior few-shot model (FS-Mol)",
        "",
        "The model `molprior adapt`, `molprior predict --support`, the pipeline, the demo and the benchmark method "
        "`molprior` start from. Adapt it to an assay's measured molecules (16 to 128 is what it was built for) and "
        "score a library:",
        "",
        "```",
        "molprior adapt --support my_assay.csv -o my_model",
        "molprior predict --model my_model --input library.csv -o scores.csv",
        "```",
        "",
        "## What it is",
        f"- Learner `{learner['algorithm']}`: a Gaussian-process head (Matérn-5/2 kernel, its hyperparameters fitted "
        "on each support by marginal likelihood under log-normal priors) on a deep kernel: the graph encoder's "
        f"embedding ({encoder['hidden_dim']}-d, {encoder['num_layers']} layers) beside ECFP4 "
        f"({head['fingerprint_dim']} bits) mapped to {head['hidden_dim']} features. The encoder and feature map were "
        "meta-learned through the implicit-function hypergradient (ADKF-IFT).",
        f"- {start_text(info)}",
        f"- Meta-trained on {len(train):,} of FS-Mol's training tasks (ChEMBL assays, FS-Mol's own binary labels); "
        f"checkpoint chosen on FS-Mol's {len(val)} valid tasks (best valid ΔAUPRC@16 "
        f"{metrics.get('best_val_delta_auprc', float('nan')):.3f} at meta-step {metrics.get('selected_step', 0):,}, "
        f"{metrics.get('initial_val_delta_auprc', float('nan')):.3f} before meta-training). FS-Mol's test tasks "
        "were never read.",
        f"- {guard_text}.",
        f"- It records the {n_seen:,} molecules (InChIKey skeletons, hashed) it was meta-trained or selected on "
        f"(`{SEEN_FILE}`): `molprior adapt` and `molprior predict` report how many of a user's molecules are among "
        "them, and the benchmark leaves them out of other assays' test molecules; their skeleton hashes "
        f"(`{SEEN_SKELETONS_FILE}`) spare that count an InChI for every molecule that cannot be among them.",
        f"- Meta-training: {metrics.get('steps_trained', 0):,} meta-steps of {config.get('tasks_per_step')} tasks "
        f"(supports {config.get('support_sizes')}, queries of {config.get('query_size')})"
        + (f", {minutes:.1f} min on 2 CPU cores" if minutes else "") + ".",
        "- Predictions carry an uncertainty: `predict` writes `uncertainty`, the GP's predictive standard deviation "
        "of the ±1 label, beside `probability_active`.",
        "",
        "## FS-Mol test tasks (FS-Mol's protocol: its draws 0-9, ΔAUPRC mean over draws, then tasks)",
        "",
        delta_auprc_table(pd.read_csv(test / "results.csv")),
        "",
        "`molprior` is this model adapted per support; the baselines ran in the same run on the same supports.",
        "",
        "## Calibration on FS-Mol's valid tasks",
        "",
        "Expected calibration error (10 bins of `probability_active`) and, per query, the ΔAUPRC of the more confident "
        "half of its molecules (smaller `uncertainty`) against the other half:",
        "",
        calibration_table(pd.read_csv(valid / "calibration.csv")),
        "",
    ]
    if moleculeace is not None:
        sections += ["## MoleculeACE's 8 test targets (balanced protocol)", "",
                     delta_auprc_table(pd.read_csv(moleculeace / "results.csv")), ""]
    if notes:
        sections += ["## Notes", "", *[f"- {note}" for note in notes], ""]
    sections += [
        "## How to retrain",
        "",
        "```",
        *[f"{command}   # --resume after a kill" for command in recipe],
        "```",
        "",
        "then the benchmark and `pipelines/ship_fewshot.py` commands at the top of that script.",
        "",
        "## Data and licence",
        "FS-Mol (Stanley et al., NeurIPS 2021 Datasets and Benchmarks), from ChEMBL, CC BY-SA 3.0; see "
        "`data/README.md`. This model is a derived work under the same licence.",
        "",
    ]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", help="a `molprior metatrain` output directory (its model/ is shipped)")
    parser.add_argument("--test", required=True, help="the FS-Mol test benchmark's output directory")
    parser.add_argument("--valid", required=True, help="the FS-Mol valid benchmark's output (calibration.csv)")
    parser.add_argument("--moleculeace", help="the MoleculeACE benchmark's output directory")
    parser.add_argument("--minutes", type=float, help="meta-training wall-clock minutes, as measured")
    parser.add_argument("--recipe", action="append", help="a command that retrains the model (repeatable, in order; "
                                                           f"default: {DEFAULT_RECIPE[0]})")
    parser.add_argument("--note", action="append", default=[], help="a line for the card's notes (repeatable): "
                                                                       "how the run differed from the recipe, what fell short")
    args = parser.parse_args(argv)
    run = Path(args.run)
    model = run / "model"
    load_learner(model)  # verified and loadable
    description = read_json_object(model / "model.json")
    seen = load_seen(model)
    if seen is None:
        raise SystemExit(f"{model} does not record its meta-training molecules ({SEEN_FILE}): retrain it")
    guard = pd.read_csv(run / "leak_guard.csv") if (run / "leak_guard.csv").exists() else None
    card = model_card(description, Path(args.test), Path(args.valid),
                      Path(args.moleculeace) if args.moleculeace else None, args.minutes, guard, len(seen), args.note,
                      args.recipe or DEFAULT_RECIPE)
    if SHIPPED_FEWSHOT.exists():
        shutil.rmtree(SHIPPED_FEWSHOT)
    SHIPPED_FEWSHOT.mkdir(parents=True)
    for name in SHIPPED_FILES:
        shutil.copy2(model / name, SHIPPED_FEWSHOT / name)
    if (model / SEEN_SKELETONS_FILE).exists():  # the prefilter that makes counting seen molecules cheap
        shutil.copy2(model / SEEN_SKELETONS_FILE, SHIPPED_FEWSHOT / SEEN_SKELETONS_FILE)
    write_text(card, SHIPPED_FEWSHOT / "MODEL_CARD.md")
    if (run / "meta_training.png").exists():
        shutil.copy2(run / "meta_training.png", SHIPPED_FEWSHOT / "meta_training.png")
    write_manifest(SHIPPED_FEWSHOT)
    size = sum(p.stat().st_size for p in SHIPPED_FEWSHOT.iterdir()) / 2**20
    if size > MAX_MEGABYTES:
        raise SystemExit(f"{SHIPPED_FEWSHOT} is {size:.1f} MB, over the {MAX_MEGABYTES} MB the package allows")
    print(f"shipped {json.loads((SHIPPED_FEWSHOT / 'model.json').read_text())['learner']['algorithm']} model "
          f"({size:.1f} MB) -> {SHIPPED_FEWSHOT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
