import numpy as np
import pandas as pd
import pytest

from molprior.data.readers import read_moleculeace
from molprior.data.curation import standardize_table
from molprior.data.duplicates import aggregate_duplicates
from molprior.data.tasks import FewShotTask, set_aside_unfingerprintable, tasks_from_table
from molprior.evaluation.fewshot import BASELINES, RESULT_COLUMNS, format_results, run_fewshot, summarize

ASSAYS = ["CHEMBL4203_Ki", "CHEMBL2047_EC50"]


@pytest.fixture(scope="module")
def table(moleculeace_dir):
    raw = read_moleculeace(moleculeace_dir).table
    kept, _ = standardize_table(raw[raw["assay"].isin(ASSAYS)])
    return aggregate_duplicates(kept)[0]


def test_protocol_runs_every_method_on_the_same_draws(table):
    tasks = tasks_from_table(table, ASSAYS)
    per_draw = run_fewshot(tasks, [16, 32], BASELINES, n_draws=3, seed=0)
    assert len(per_draw) == len(ASSAYS) * 2 * 3 * len(BASELINES)
    same = per_draw.groupby(["assay", "support_size", "draw"])["n_query"].nunique()
    assert (same == 1).all()
    summary = summarize(per_draw)
    assert list(summary.columns) == list(RESULT_COLUMNS)
    assert set(summary["metric"]) == {"delta_auprc", "roc_auc"}
    assert (summary["n_tasks"] == 2).all() and (summary["n_draws"] == 6).all()
    rf = summary[(summary.method == "rf_ecfp") & (summary.metric == "roc_auc")]
    assert (rf["mean"] > 0.55).all()


def test_summary_is_the_mean_of_per_assay_means(table):
    per_draw = run_fewshot(tasks_from_table(table, ASSAYS), [16], {"rf_ecfp": BASELINES["rf_ecfp"]}, n_draws=2)
    summary = summarize(per_draw)
    row = summary[summary.metric == "delta_auprc"].iloc[0]
    per_assay = per_draw.groupby("assay")["delta_auprc"].mean()
    assert row["mean"] == pytest.approx(per_assay.mean())
    assert row["std"] == pytest.approx(per_assay.std(ddof=1))
    assert "delta_auprc@16" in format_results(summary)


def test_results_are_reproducible(table):
    tasks = tasks_from_table(table, ASSAYS[:1])
    first = run_fewshot(tasks, [16], BASELINES, n_draws=2, seed=3)
    second = run_fewshot(tasks, [16], BASELINES, n_draws=2, seed=3)
    pd.testing.assert_frame_equal(first, second)


def test_assay_too_small_for_a_support_size_is_left_out_and_reported(caplog):
    task = FewShotTask("tiny", ["CCO", "CCN", "CCC", "CCCl", "c1ccccc1", "CC(=O)O"], np.array([1, 0, 1, 0, 1, 0.0]))
    per_draw = run_fewshot([task], [16], BASELINES, n_draws=2)
    assert per_draw.empty
    assert "assay tiny skipped at support size 16: 3 actives and 3 inactives" in caplog.text
    assert summarize(per_draw).empty


def test_molecules_without_a_fingerprint_are_set_aside_with_their_reason(table):
    task = tasks_from_table(table, ASSAYS[:1])[0]
    n = len(task.inputs)
    task.inputs[3] = "c1cccc1"  # what the old standardiser wrote for ferrocene: RDKit cannot read it back
    task.inputs[7] = "C1CC"
    expected = [s for i, s in enumerate(task.inputs) if i not in (3, 7)]
    left_out = set_aside_unfingerprintable([task])
    assert sorted(left_out) == ["C1CC", "c1cccc1"]
    assert "unparseable SMILES 'c1cccc1'" in left_out["c1cccc1"]
    assert task.inputs == expected and len(task.labels) == n - 2 and task.fingerprints.shape == (n - 2, 2048)
    per_draw = run_fewshot([task], [16], BASELINES, n_draws=2, seed=0)  # the protocol runs on the rest
    assert len(per_draw) == 2 * len(BASELINES)


@pytest.fixture(scope="module")
def fsmol_task() -> FewShotTask:
    from pathlib import Path

    from molprior.data.fsmol import read_task_files

    rows = read_task_files(Path(__file__).parents[1] / "data" / "fsmol_original")
    rows = rows[rows["assay"] == "CHEMBL1066254"]
    return FewShotTask("CHEMBL1066254", rows["smiles"].tolist(), rows["label"].to_numpy())


def test_fsmol_protocol_draws_fsmols_supports_whatever_the_seed(fsmol_task):
    from molprior.data.episodes import fsmol_episode

    first = run_fewshot([fsmol_task], [16, 128], {"rf_ecfp": BASELINES["rf_ecfp"]}, n_draws=10, seed=0,
                        protocol="fsmol")
    other_seed = run_fewshot([fsmol_task], [16, 128], {"rf_ecfp": BASELINES["rf_ecfp"]}, n_draws=10, seed=5,
                             protocol="fsmol")
    assert len(first) == 20 and first["draw"].tolist() == list(range(10)) * 2
    assert first["fraction_positive_train"].tolist() == other_seed["fraction_positive_train"].tolist()
    for row in first.itertuples():
        episode = fsmol_episode(fsmol_task.labels, row.support_size, row.draw)
        assert row.n_query == len(episode.query) == len(fsmol_task.labels) - row.support_size
        assert row.fraction_positive_train == pytest.approx(fsmol_task.labels[episode.support].mean())
    # ΔAUPRC is average precision minus the query's positive fraction, as FS-Mol computes it
    np.testing.assert_allclose(first["delta_auprc"], first["avg_precision"] - first["active_fraction"], atol=1e-12)
    with pytest.raises(ValueError, match="unknown protocol"):
        run_fewshot([fsmol_task], [16], BASELINES, n_draws=1, protocol="alternating")


def test_fsmol_summary_and_protein_class_breakdown(fsmol_task):
    from molprior.evaluation.fewshot import PER_TASK_COLUMNS, by_protein_class, fsmol_summary

    other = FewShotTask("copy", fsmol_task.inputs, fsmol_task.labels)
    per_draw = run_fewshot([fsmol_task, other], [16], BASELINES, n_draws=2, protocol="fsmol")
    summary = fsmol_summary(per_draw)
    assert list(summary.columns) == list(PER_TASK_COLUMNS)
    assert set(summary["task"]) == {"CHEMBL1066254", "copy"} and set(summary["size"]) == {16}
    classes = by_protein_class(per_draw, {"CHEMBL1066254": "transferase"})
    rf = classes[classes["method"] == "rf_ecfp"].set_index("protein_class")
    assert rf["n_tasks"].to_dict() == {"transferase": 1, "unknown": 1}
    expected = per_draw[(per_draw.method == "rf_ecfp") & (per_draw.assay == "copy")]["delta_auprc"].mean()
    assert rf.loc["unknown", "delta_auprc"] == pytest.approx(expected)


def test_worker_processes_give_the_same_rows(table):
    tasks = tasks_from_table(table, ASSAYS)
    alone = run_fewshot(tasks, [16], BASELINES, n_draws=2, seed=1)
    pd.testing.assert_frame_equal(run_fewshot(tasks, [16], BASELINES, n_draws=2, seed=1, jobs=2), alone)


def test_a_slow_method_is_scored_on_its_first_draws_only_and_the_table_says_so(table):
    tasks = tasks_from_table(table, ASSAYS)
    full = run_fewshot(tasks, [16], BASELINES, n_draws=3, seed=0)
    fewer = run_fewshot(tasks, [16], BASELINES, n_draws=3, seed=0, method_draws={"rf_ecfp": 1})
    rf = fewer[fewer["method"] == "rf_ecfp"]
    assert set(rf["draw"]) == {0} and len(rf) == len(ASSAYS)
    # the draws it keeps are the same supports, with the same scores, as in the full run
    pd.testing.assert_frame_equal(rf.reset_index(drop=True),
                                  full[(full["method"] == "rf_ecfp") & (full["draw"] == 0)].reset_index(drop=True))
    pd.testing.assert_frame_equal(fewer[fewer["method"] == "knn_tanimoto"].reset_index(drop=True),
                                  full[full["method"] == "knn_tanimoto"].reset_index(drop=True))
    text = format_results(summarize(fewer))
    assert "rf_ecfp: 1 draw per assay and size (the others 3)" in text
    assert "knn_tanimoto:" not in text


def test_worker_processes_give_the_same_rows_in_the_same_order(table):
    tasks = tasks_from_table(table, ASSAYS)
    alone = run_fewshot(tasks, [16, 32], BASELINES, n_draws=2, seed=1, method_draws={"knn_tanimoto": 1})
    workers = run_fewshot(tasks, [16, 32], BASELINES, n_draws=2, seed=1, method_draws={"knn_tanimoto": 1}, jobs=2)
    pd.testing.assert_frame_equal(alone, workers)


def test_alleles_run_through_the_same_protocol_baselines_and_learner_as_assays():
    """An allele is a task like an assay: real MHC measurements as peptide tasks go through the
    FS-Mol protocol with the ECFP4 baselines and the shipped few-shot learner (meta-trained on
    FS-Mol, never on peptides) over a bank of all-atom peptide graphs, no code of their own."""
    from pathlib import Path

    from molprior.data.mhc import allele_tasks, measurements_from_frame
    from molprior.evaluation.learner_methods import learner_method
    from molprior.serialization import load_learner
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.workflows.metatrain import build_bank

    alleles = ["HLA-A*02:01", "HLA-B*07:02"]
    raw = pd.read_csv(Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz")
    measured = measurements_from_frame(pd.concat([raw[raw["allele"] == a].sample(120, random_state=0)
                                                  for a in alleles])).table
    peptides = sorted(set(measured["peptide"]))
    tasks = allele_tasks(measured, {p: i for i, p in enumerate(peptides)}, alleles)
    for task in tasks:
        task.keep(np.flatnonzero(~np.isnan(task.labels)))  # binder or not decided by the measurement
    bank = build_bank(tasks)
    assert bank.kind == "peptide" and len(bank) == len({p for t in tasks for p in t.inputs})
    learner, _ = load_learner(resolve_model_dir(None, kind="fewshot"))
    methods = {**BASELINES, "molprior": learner_method(learner, bank)}
    per_draw = run_fewshot(tasks, [16], methods, n_draws=2, seed=0)
    assert len(per_draw) == len(alleles) * 2 * len(methods) and per_draw["roc_auc"].notna().all()
    same = per_draw.groupby(["assay", "draw"])["n_query"].nunique()
    assert (same == 1).all()  # every method on the same draws
    means = per_draw.groupby("method")["roc_auc"].mean()
    assert (means > 0.5).all(), means  # each learns something about binding from 16 peptides
