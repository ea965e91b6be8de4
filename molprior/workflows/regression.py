"""``molprior benchmark regression``: full-data regression on MoleculeACE's own train/test split.

For every target, each method is fitted on the target's ``split == "train"`` molecules and
scored on its ``split == "test"`` molecules (RMSE, and RMSE on the test molecules with
``cliff_mol == 1``).  Methods:

* ``svr_ecfp`` and ``rf_ecfp``: the fingerprint baselines of :mod:`molprior.evaluation.regression`;
* ``gnn_finetune``: the graph encoder + head model, fine-tuned on the whole training split
  from a meta-learned initialisation.  The initialisation is a given few-shot model
  (``model``), or, by default, a short ANIL regression meta-training from the shipped prior
  on the *training-split* rows of the targets (:func:`metatraining_rows`; checkpoint chosen
  on the training-split rows of :data:`~molprior.config.MOLECULEACE_VAL_ASSAYS`), so no
  test molecule is seen before scoring.

The fine-tuning epochs (:class:`FinetuneConfig`) were chosen on validation slices (a fifth)
carved from the training splits of the four meta-validation targets, never a test split.
From the default initialisation, mean RMSE over those slices: 10 epochs 0.685, 15 epochs
0.683, 20 epochs 0.691, 30 epochs 0.700 (SVR on the same slices: 0.678); 10 is the cheaper
of the two best.

The values are MoleculeACE's, in molar p-units (``9 + y``: pKi or pEC50); RMSE is the
same as on MoleculeACE's ``y``.  Everything runs in one MLflow run (nested under an active
one), with the meta-training nested in it.
"""

from __future__ import annotations

import copy
import logging
import time
import zlib
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from molprior.chem.cache import FeatureCache
from molprior.chem.fingerprints import ecfp
from molprior.config import MOLECULEACE_VAL_ASSAYS, MetaTrainConfig
from molprior.data.assay_selection import resolve_assays
from molprior.data import labels as labelling
from molprior.data.curation import standardize_items
from molprior.data.prepare import PreparedTable
from molprior.data.readers import read_moleculeace
from molprior.data.schema import problems_table
from molprior.data.tasks import FewShotTask
from molprior.errors import InputError
from molprior.evaluation.regression import RESULT_COLUMNS, format_summary, results_row, rf_ecfp_predict, \
    summarize, svr_ecfp_predict
from molprior.files import write_csv
from molprior.meta.batches import MoleculeBank
from molprior.meta.finetune import fine_tune
from molprior.parallel import map_in_processes
from molprior.models.heads import TaskModel
from molprior.tracking import runs
from molprior.typed_configs import merged, merged_mappings
from molprior.workflows.progress import progress_bar
from molprior.workflows.regression_settings import METATRAIN_EPOCHS, METHODS, FinetuneConfig

log = logging.getLogger(__name__)

SPLITS = ("train", "test")
FINGERPRINT_BITS = 2048

#: The default meta-training that gives ``gnn_finetune`` its initialisation (keys of
#: :class:`~molprior.config.MetaTrainConfig`); ``trainer.max_epochs`` is ``metatrain_epochs``.
METATRAIN_DEFAULTS = {
    "prior": "shipped",
    "head": {"fingerprint_dim": FINGERPRINT_BITS, "hidden_dim": 512, "dropout": 0.0},
    "learner": {"algorithm": "maml", "task_type": "regression",
                "maml": {"anil": True, "inner_steps": 5, "inner_lr": 0.05}},
    "support_sizes": [16, 32, 64],
    "query_size": 64,
    "tasks_per_step": 4,
    "steps_per_epoch": 50,
    "trainer": {"patience": 5},
}

@dataclass
class RegressionOutcome:
    results: pd.DataFrame  # RESULT_COLUMNS
    summary: pd.DataFrame  # per-method means
    predictions: pd.DataFrame
    timings: pd.DataFrame
    table_text: str
    outputs: dict[str, Path]
    run_id: str
    model_source: str | None = None  # where gnn_finetune started from


# ---- input ------------------------------------------------------------------------------

def read_benchmark(path: str | Path, assays: Sequence[str] | None = None,
                   jobs: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The targets ``assays`` (all when empty) of MoleculeACE file(s), with standardised
    SMILES: ``(table, rejected)``.

    Every measurement stays a row of its own (MoleculeACE has no duplicates); a row whose
    molecule does not standardise is set aside in ``rejected``.  A file without ``split``
    or ``cliff_mol`` raises :class:`InputError` naming the column; a ``split`` other than
    ``train``/``test`` too.
    """
    result = read_moleculeace(path)
    table = result.table
    table = table[table["assay"].isin(select_assays(table, assays))]
    for column in ("split", "cliff_mol"):
        if column not in table.columns:
            raise InputError(f"{path}: no {column!r} column; MoleculeACE files hold smiles, y, cliff_mol and split")
    table = table.assign(split=table["split"].astype(str).str.strip().str.lower())
    bad = sorted(set(table["split"]) - set(SPLITS))
    if bad:
        raise InputError(f"{path}: column 'split' holds {bad}; expected only 'train' and 'test'")
    if table["cliff_mol"].isna().any():
        line = int(table.loc[table["cliff_mol"].isna(), "line"].iloc[0])
        raise InputError(f"{path}: column 'cliff_mol' must be 0 or 1 (line {line} is not)")
    inputs = list(dict.fromkeys(table["input"]))
    outcomes = dict(zip(inputs, standardize_items([("smiles", s) for s in inputs], n_jobs=jobs)))
    smiles = table["input"].map(lambda s: outcomes[s].smiles)
    ok = smiles.notna().to_numpy()
    rejected = [(int(r.line), r.input, "smiles", outcomes[r.input].reason) for r in table.loc[~ok].itertuples()]
    table = table.loc[ok].assign(smiles=smiles[ok]).reset_index(drop=True)
    table["cliff_mol"] = table["cliff_mol"].astype(np.int64)
    return table, pd.concat([result.problems, problems_table(rejected)], ignore_index=True)


def select_assays(table: pd.DataFrame, assays: Sequence[str] | None) -> list[str]:
    """The targets to run (all, in file order, when ``assays`` is empty; ranges such as ``-6:``
    as :func:`molprior.data.assay_selection.resolve_assays` reads them)."""
    known = list(dict.fromkeys(table["assay"]))
    if not assays:
        return known
    return resolve_assays(assays, known)


def build_targets(table: pd.DataFrame, assays: Sequence[str], graphs: bool, jobs: int = 1,
                  cache_dir: str | Path | None = None
                  ) -> tuple[list[FewShotTask], list[MoleculeBank | None], MoleculeBank | None, list[tuple]]:
    """One task per target (values, the fixed split, the ``cliff_mol`` flags as metadata and
    ECFP4); with ``graphs`` also each target's molecule graphs and the whole molecule bank
    (molecules that do not featurise are left out of every method, and reported):
    ``(tasks, graphs per task, bank, problems)``."""
    rows = table[table["assay"].isin(assays)]
    problems: list[tuple] = []
    bank = None
    if graphs:
        with FeatureCache(cache_dir) as cache:
            bank, errors = MoleculeBank.build(rows["smiles"].tolist(), fingerprint_bits=FINGERPRINT_BITS,
                                              n_jobs=jobs, cache=cache)
        if errors:
            dropped = rows["smiles"].isin(list(errors))
            problems = [(int(r.line), r.input, "smiles", errors[r.smiles]) for r in rows.loc[dropped].itertuples()]
            log.warning("%d rows left out: their molecules could not be featurised", len(problems))
            rows = rows.loc[~dropped]
    targets, target_graphs = [], []
    for assay in assays:
        part = rows[rows["assay"] == assay]
        test = (part["split"] == "test").to_numpy()
        if (~test).sum() < 2 or not test.any():
            raise InputError(f"{assay}: needs at least 2 training and 1 test molecules "
                             f"(has {(~test).sum()} and {test.sum()})")
        smiles = part["smiles"].tolist()
        if bank is not None:
            index = bank.indices(smiles)
            sub = MoleculeBank(bank.graphs.select(index), bank.fingerprints[index])
            fingerprints = sub.fingerprints
        else:
            sub, fingerprints = None, ecfp(smiles, n_bits=FINGERPRINT_BITS)
        targets.append(FewShotTask(assay, smiles, None, part["value"].to_numpy(dtype=np.float64),
                                   split=part["split"].to_numpy(dtype=object),
                                   metadata={"cliff_mol": part["cliff_mol"].to_numpy(dtype=np.int64)},
                                   _fingerprints=fingerprints))
        target_graphs.append(sub)
    return targets, target_graphs, bank, problems


# ---- the neural method --------------------------------------------------------------------

def warmup_cosine(total_steps: int, warmup_fraction: float = 0.1, start: float = 0.04):
    """Learning-rate factor per step: linear warm-up from ``start`` over the first
    ``warmup_fraction`` of the steps, then cosine decay to zero."""
    warmup = max(1, int(warmup_fraction * total_steps))

    def factor(step: int) -> float:
        if step < warmup:
            return start + (1 - start) * step / warmup
        return 0.5 * (1 + np.cos(np.pi * min(1.0, (step - warmup) / max(1, total_steps - warmup))))

    return factor


def finetune_predict(model: TaskModel, bank: MoleculeBank, train: np.ndarray, train_y: np.ndarray,
                     test: np.ndarray, config: FinetuneConfig = FinetuneConfig(), seed: int = 0) -> np.ndarray:
    """Fine-tune a copy of ``model`` on molecules ``train`` of ``bank`` and predict molecules ``test``."""
    model = copy.deepcopy(model)
    if config.dropout is not None:
        for module in model.head.modules():
            if isinstance(module, torch.nn.Dropout):
                module.p = config.dropout
    train_y = np.asarray(train_y, dtype=np.float64)
    mean, std = float(train_y.mean()), float(train_y.std())
    std = std if std > 1e-6 else 1.0
    targets = torch.as_tensor((train_y - mean) / std, dtype=torch.float32)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, warmup_cosine(config.epochs * -(-len(train) // config.batch_size)))
    model.train()
    fine_tune(optimizer, lambda rows: torch.nn.functional.mse_loss(model(bank.batch(train[rows])), targets[rows]),
              len(train), config.epochs, config.batch_size, shuffle=rng.permutation, scheduler=schedule,
              min_batch=2)  # a lone molecule gives a noisy last step
    model.eval()
    with torch.no_grad():
        out = [model(bank.batch(test[s : s + 256])) for s in range(0, len(test), 256)]
    return torch.cat(out).numpy().astype(np.float64) * std + mean


# ---- one target ---------------------------------------------------------------------------

def target_seed(seed: int, assay: str) -> int:
    return int(np.random.SeedSequence([seed, zlib.crc32(assay.encode())]).generate_state(1)[0])


def evaluate_target(target: FewShotTask, graphs: MoleculeBank | None, methods: Sequence[str],
                    model: TaskModel | None, finetune: FinetuneConfig,
                    seed: int) -> tuple[list[dict], pd.DataFrame, list[dict]]:
    """Fit every method on the target's training split (``graphs``: its molecules' graphs, for
    the neural method); ``(result rows, predictions, timings)``."""
    test_rows = target.split == "test"
    train, test = np.flatnonzero(~test_rows), np.flatnonzero(test_rows)
    x, y, cliff = target.fingerprints, target.values, target.metadata["cliff_mol"]
    rows, predictions, timings = [], [], []
    for method in methods:
        start = time.perf_counter()
        if method == "svr_ecfp":
            predicted = svr_ecfp_predict(x[train], y[train], x[test])
        elif method == "rf_ecfp":
            predicted = rf_ecfp_predict(x[train], y[train], x[test], seed=target_seed(seed, target.assay))
        elif method == "gnn_finetune":
            if model is None or graphs is None:
                raise InputError("gnn_finetune needs a model and molecular graphs")
            predicted = finetune_predict(model, graphs, train, y[train], test, finetune,
                                         target_seed(seed, target.assay))
        else:
            raise InputError(f"unknown method {method!r}; available: {', '.join(METHODS)}")
        seconds = time.perf_counter() - start
        rows.append(results_row(method, target.assay, y[test], predicted, cliff[test]))
        predictions.append(pd.DataFrame({"method": method, "assay": target.assay,
                                         "smiles": [target.inputs[i] for i in test], "split": "test",
                                         "cliff_mol": cliff[test], "y": y[test], "predicted": predicted}))
        timings.append({"method": method, "assay": target.assay, "n_train": len(train), "n_test": len(test),
                        "n_test_cliff": int(cliff[test].sum()), "seconds": seconds})
    return rows, pd.concat(predictions, ignore_index=True), timings


def _evaluate(args) -> tuple[list[dict], pd.DataFrame, list[dict]]:
    return evaluate_target(*args)


def evaluate_targets(targets: Sequence[FewShotTask], graphs: Sequence[MoleculeBank | None], methods: Sequence[str],
                     model: TaskModel | None, finetune: FinetuneConfig, seed: int, jobs: int = 1, progress=None):
    """:func:`evaluate_target` for every target (with its graphs), in ``jobs`` processes (one
    torch thread each)."""
    tasks = [(t, g, tuple(methods), model, finetune, seed) for t, g in zip(targets, graphs)]
    # the largest targets first, so the last ones to finish are short
    for result in map_in_processes(_evaluate, tasks, jobs, cost=lambda task: len(task[0])):
        yield result
        if progress:
            progress(1)


# ---- the initialisation -----------------------------------------------------------------

def metatrain_config(input: str | Path, assays: Sequence[str], epochs: int, seed: int,
                     overrides: dict | None = None) -> MetaTrainConfig:
    """The default meta-training of the initialisation, on ``assays`` (their training splits)."""
    val = [a for a in MOLECULEACE_VAL_ASSAYS if a in assays]
    if not val:
        if len(assays) < 2:
            raise InputError("meta-training the initialisation needs at least 2 targets; pass a model instead")
        val = [sorted(assays)[-1]]
    values = merged_mappings(METATRAIN_DEFAULTS, {
        "input": str(input), "val_assays": val, "test_assays": [], "train_assays": [a for a in assays if a not in val],
        "trainer": {"max_epochs": epochs}, "seed": seed})
    return merged(MetaTrainConfig(), merged_mappings(values, overrides or {}))


def metatraining_rows(table: pd.DataFrame, assays: Sequence[str]) -> pd.DataFrame:
    """The rows meta-training may read: training-split rows of ``assays`` whose molecule is
    in none of their test splits (targets share molecules: a test molecule of one target
    must not be learnt from another target's measurement of it)."""
    held_out = set(table.loc[table["assay"].isin(assays) & (table["split"] == "test"), "smiles"])
    rows = table[table["assay"].isin(assays) & (table["split"] == "train") & ~table["smiles"].isin(held_out)]
    return rows.reset_index(drop=True)


def metalearned_model(table: pd.DataFrame, assays: Sequence[str], config: MetaTrainConfig, output_dir: Path,
                      bank: MoleculeBank | None, jobs: int = 1) -> tuple[TaskModel, Path]:
    """Meta-train on :func:`metatraining_rows` of ``table`` alone (nested MLflow run)."""
    from molprior.serialization import load_learner
    from molprior.workflows.metatrain import run_metatraining

    train = metatraining_rows(table, assays)
    if bank is not None:
        train = train[train["smiles"].isin(bank.position)].reset_index(drop=True)
    log.info("meta-training the initialisation on %d training-split rows of %d targets", len(train), len(assays))
    train = labelling.assign_labels(train)  # medians of the training splits only
    prepared = PreparedTable("moleculeace", train, problems_table([]), pd.DataFrame(), len(train))
    outcome = run_metatraining(config, output_dir, prepared=prepared, bank=bank, jobs=jobs, progress=False,
                               nested=True, run_name="metatrain-regression-init")
    learner, _ = load_learner(outcome.model_dir)
    return learner.model, outcome.model_dir


def load_model(model: str | Path) -> tuple[TaskModel, dict]:
    """The encoder+head model of a few-shot model directory or MLflow URI, and its description."""
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.serialization import load_learner

    learner, description = load_learner(resolve_model_dir(model, kind="fewshot"))
    if learner.model.head_config.fingerprint_dim not in (0, FINGERPRINT_BITS):
        raise InputError(f"{model}: the head reads {learner.model.head_config.fingerprint_dim}-bit fingerprints; "
                         f"this benchmark builds {FINGERPRINT_BITS}-bit ECFP4")
    return learner.model, description


# ---- the job ------------------------------------------------------------------------------

def run_regression_benchmark(
    input: str | Path = "data/moleculeace",
    output_dir: str | Path = "regression-output",
    model: str | Path | None = None,
    methods: Sequence[str] = METHODS,
    assays: Sequence[str] | None = None,
    jobs: int = 1,
    epochs: int = FinetuneConfig.epochs,
    seed: int = 0,
    metatrain_epochs: int = METATRAIN_EPOCHS,
    metatrain: dict | None = None,
    finetune: FinetuneConfig | None = None,
    cache_dir: str | Path | None = None,
) -> RegressionOutcome:
    """Run the protocol and write ``results.csv`` (``method,assay,rmse,rmse_cliff``),
    ``summary.csv``, ``predictions.csv``, ``timings.csv`` and ``rejected.csv`` into ``output_dir``.

    ``model``: the initialisation of ``gnn_finetune`` (a few-shot model directory or MLflow
    URI); ``None`` meta-trains one on the training splits (``metatrain_epochs`` epochs,
    ``metatrain``: :class:`MetaTrainConfig` overrides).  ``epochs``: fine-tuning epochs
    (``finetune`` sets the rest).  ``jobs``: processes for standardisation, featurisation
    and the targets (each target's methods run in one process with one torch thread).
    """
    methods = list(dict.fromkeys(methods))
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise InputError(f"unknown methods {unknown}; available: {', '.join(METHODS)}")
    finetune = finetune or FinetuneConfig(epochs=epochs)
    out = Path(output_dir)
    neural = "gnn_finetune" in methods
    params = {"input": str(input), "methods": methods, "assays": list(assays) if assays else "all", "seed": seed,
              "jobs": jobs, "model": str(model) if model is not None else "meta-trained on the training splits"}
    if neural:
        params.update({f"finetune.{k}": v for k, v in asdict(finetune).items()})
    started = time.perf_counter()
    with runs.tracked_run("benchmark-regression", params=params, nested=runs.active()) as run:
        runs.log_input_file(input)
        table, rejected = read_benchmark(input, assays, jobs)
        chosen = select_assays(table, assays)
        targets, target_graphs, bank, problems = build_targets(table, chosen, graphs=neural, jobs=jobs, cache_dir=cache_dir)
        rejected = pd.concat([rejected, problems_table(problems)], ignore_index=True)
        runs.log_table_hash(table, "input_table")
        task_model, source = None, None
        if neural:
            if model is None:
                config = metatrain_config(input, chosen, metatrain_epochs, seed, metatrain)
                start = time.perf_counter()
                task_model, model_dir = metalearned_model(table, chosen, config, out / "metatrain", bank, jobs)
                runs.log_metrics({"metatrain_seconds": time.perf_counter() - start})
                source = str(model_dir)
            else:
                task_model, _ = load_model(model)
                source = str(model)
            task_model = task_model.cpu()
            import mlflow

            mlflow.set_tag("molprior.init_model", source)
        rows, predictions, timings = [], [], []
        with progress_bar("regression benchmark", len(targets)) as advance:
            for r, p, t in evaluate_targets(targets, target_graphs, methods, task_model, finetune, seed, jobs, advance):
                rows += r
                predictions.append(p)
                timings += t
        rank = {m: i for i, m in enumerate(methods)}
        results = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
        results = results.sort_values(["method", "assay"], key=lambda c: c.map(rank) if c.name == "method" else c,
                                      kind="stable").reset_index(drop=True)
        summary = summarize(results)
        predictions = pd.concat(predictions, ignore_index=True)
        timings = pd.DataFrame(timings)
        outputs = {
            "results": write_csv(results, out / "results.csv"),
            "summary": write_csv(summary, out / "summary.csv"),
            "predictions": write_csv(predictions, out / "predictions.csv"),
            "timings": write_csv(timings, out / "timings.csv"),
            "rejected": write_csv(rejected, out / "rejected.csv"),
        }
        metrics = {}
        for row in summary.itertuples(index=False):
            metrics[f"{row.method}.rmse_mean"] = row.rmse
            metrics[f"{row.method}.rmse_cliff_mean"] = row.rmse_cliff
            metrics[f"{row.method}.seconds"] = float(timings.loc[timings["method"] == row.method, "seconds"].sum())
        runs.log_metrics({"n_assays": len(targets), "rows_rejected": len(rejected),
                          "wall_seconds": time.perf_counter() - started, **metrics})
        runs.log_files(outputs, artifact_path="regression")
    text = format_summary(summary)
    return RegressionOutcome(results, summary, predictions, timings, text, outputs, run.info.run_id, source)
