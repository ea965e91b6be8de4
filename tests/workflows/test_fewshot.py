"""The few-shot benchmark with every method, on a small real split, through the command line."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml

from molprior.cli.main import main
from _fewshot import TEST, TRAIN, VAL, long_file

ALL = ["rf_ecfp", "knn_tanimoto", "gnn_scratch", "pretrained_finetune", "protonet", "maml_scratch", "maml_pretrained",
       "adkf", "adkf_scratch", "hyper_maml", "molprior"]
META = ("protonet", "maml_scratch", "maml_pretrained", "adkf", "adkf_scratch", "hyper_maml")


def test_all_methods_write_the_results_table(tmp_path, capsys):
    config = tmp_path / "meta.yaml"  # a very short meta-training: the shipped prior, 2 epochs of 3 steps
    config.write_text(yaml.safe_dump({"encoder": {"hidden_dim": 32, "num_layers": 2}, "support_sizes": [16], "query_size": 32, "tasks_per_step": 2,
                                      "steps_per_epoch": 3, "val_draws": 2, "trainer": {"max_epochs": 2},
                                      "learner": {"maml": {"anil": True, "proto_init": True}}}))
    out = tmp_path / "bench"
    code = main(["-q", "benchmark", "fewshot", "--input", str(long_file(tmp_path / "assays.csv", 70)),
                 "--test-assays", ",".join(TEST), "--val-assays", ",".join(VAL), "--support-sizes", "16,24",
                 "--draws", "2", "--methods", "all", "--metatrain-config", str(config), "--finetune-steps", "10",
                 "-o", str(out), "-j", "1"])
    assert code == 0
    results = pd.read_csv(out / "results.csv")
    assert list(results.columns) == ["method", "support_size", "metric", "mean", "std", "n_tasks", "n_draws"]
    assert list(dict.fromkeys(results["method"])) == ALL
    assert set(results["metric"]) == {"delta_auprc", "roc_auc"} and set(results["support_size"]) == {16, 24}
    assert (results["n_tasks"] == 1).all() and (results["n_draws"] == 2).all()
    assert results["mean"].notna().all()
    per_task = pd.read_csv(out / "per_task.csv")
    assert set(per_task["task"]) == set(TEST) and set(per_task["method"]) == set(ALL)
    assert (out / "delta_auprc.png").stat().st_size > 1000
    calibration = pd.read_csv(out / "calibration.csv")  # the GP heads' predictive spread, measured
    assert set(calibration["method"]) == {"adkf", "adkf_scratch", "molprior"} and calibration["ece"].between(0, 1).all()
    assert pd.read_csv(out / "seen_molecules.csv").empty  # the shipped model never saw these MoleculeACE molecules
    for name in META:
        assert (out / "models" / f"{name}-seed0" / "model" / "model.json").exists()
    printed = capsys.readouterr().out
    assert "maml_pretrained" in printed and "delta_auprc@16" in printed

    runs = mlflow.search_runs(search_all_experiments=True)
    parent = runs[runs["tags.mlflow.runName"] == "benchmark-fewshot"]
    children = runs[runs["tags.mlflow.parentRunId"] == parent["run_id"].iloc[0]]
    assert sorted(children["tags.mlflow.runName"]) == sorted(f"metatrain-{name}" for name in META)
    assert parent["metrics.maml_pretrained.delta_auprc.k16"].notna().all()


def test_meta_trained_methods_need_validation_assays(tmp_path, capsys):
    code = main(["benchmark", "fewshot", "--input", str(long_file(tmp_path / "assays.csv", 40)),
                 "--test-assays", ",".join(TEST), "--methods", "maml_pretrained", "-o", str(tmp_path / "b"), "-j", "1"])
    assert code == 2 and "--val-assays" in capsys.readouterr().err


def test_test_and_validation_assays_must_differ(tmp_path, capsys):
    code = main(["benchmark", "fewshot", "--input", str(long_file(tmp_path / "assays.csv", 40)),
                 "--test-assays", ",".join(TEST), "--val-assays", ",".join(TEST), "--methods", "rf_ecfp",
                 "-o", str(tmp_path / "b"), "-j", "1"])
    assert code == 2 and "both in the test and the validation set" in capsys.readouterr().err


def _wide_with_comma_names(path, rows=70):
    """A wide file of three real MoleculeACE assays whose columns hold commas (as SIDER's do),
    in a known column order; the first 70 rows of each target (blanks where a molecule is not
    measured for a column)."""
    from _fewshot import MOLECULEACE_DIR

    names = {"CHEMBL233_Ki": "Mu opioid receptor, Ki", "CHEMBL236_Ki": "Delta opioid receptor, Ki",
             "CHEMBL2047_EC50": "PPAR delta, EC50 (agonists)"}
    frames = [pd.read_csv(MOLECULEACE_DIR / f"{assay}.csv").head(rows)[["smiles", "y"]].rename(columns={"y": name})
              for assay, name in names.items()]
    wide = frames[0]
    for frame in frames[1:]:
        wide = wide.merge(frame, on="smiles", how="outer", sort=False)
    wide.to_csv(path, index=False)
    return path, list(names.values())


def test_assays_with_commas_are_chosen_by_quoted_name_or_by_position(tmp_path):
    path, columns = _wide_with_comma_names(tmp_path / "wide.csv")
    quoted = main(["-q", "benchmark", "fewshot", "--input", str(path), "--format", "wide",
                   "--test-assays", f'"{columns[2]}"', "--support-sizes", "16", "--draws", "2",
                   "--methods", "rf_ecfp", "-o", str(tmp_path / "quoted"), "-j", "1"])
    by_position = main(["-q", "benchmark", "fewshot", "--input", str(path), "--format", "wide",
                        "--test-assays=-1:", "--support-sizes", "16", "--draws", "2",
                        "--methods", "rf_ecfp", "-o", str(tmp_path / "position"), "-j", "1"])
    assert quoted == by_position == 0
    assert set(pd.read_csv(tmp_path / "quoted" / "per_task.csv")["task"]) == {columns[2]}
    assert (tmp_path / "quoted" / "results.csv").read_bytes() == (tmp_path / "position" / "results.csv").read_bytes()
    names = tmp_path / "names.txt"
    names.write_text(f"{columns[0]}\n{columns[1]}\n")
    assert main(["-q", "benchmark", "fewshot", "--input", str(path), "--format", "wide", "--test-assays", f"@{names}",
                 "--support-sizes", "16", "--draws", "2", "--methods", "rf_ecfp", "-o", str(tmp_path / "file"),
                 "-j", "1"]) == 0
    assert set(pd.read_csv(tmp_path / "file" / "per_task.csv")["task"]) == set(columns[:2])


def test_an_unquoted_name_with_a_comma_is_explained(tmp_path, capsys):
    path, columns = _wide_with_comma_names(tmp_path / "wide.csv")
    code = main(["benchmark", "fewshot", "--input", str(path), "--format", "wide", "--test-assays", columns[2],
                 "--methods", "rf_ecfp", "-o", str(tmp_path / "b"), "-j", "1"])
    assert code == 2 and "must be quoted" in capsys.readouterr().err


def test_fsmol_defaults_to_fsmols_protocol_sizes_and_valid_tasks(tmp_path, capsys):
    from molprior.data.episodes import fsmol_episode
    from molprior.evaluation.fewshot import PER_TASK_COLUMNS

    out = tmp_path / "fsmol"
    code = main(["-q", "benchmark", "fewshot", "--input", "dataset:fsmol", "--test-assays", "CHEMBL1066254,CHEMBL3707738",
                 "--methods", "rf_ecfp", "--draws", "2", "-o", str(out), "-j", "1"])
    assert code == 0
    per_task = pd.read_csv(out / "per_task.csv")
    assert list(per_task.columns) == list(PER_TASK_COLUMNS)
    assert sorted(set(per_task["size"])) == [16, 32, 64, 128] and set(per_task["draw"]) == {0, 1}
    row = per_task[(per_task["task"] == "CHEMBL1066254") & (per_task["size"] == 32) & (per_task["draw"] == 1)].iloc[0]
    table = pd.read_csv(Path(__file__).parents[2] / "data" / "fsmol" / "fsmol.csv.gz")  # FS-Mol's own rows
    labels = table.loc[table["assay"] == "CHEMBL1066254", "label"].to_numpy(dtype=float)
    episode = fsmol_episode(labels, 32, 1)
    assert row["num_test"] == len(episode.query)
    assert row["fraction_positive_test"] == labels[episode.query].mean()
    classes = pd.read_csv(out / "by_protein_class.csv")
    assert dict(zip(classes["protein_class"], classes["n_tasks"])) == {"transferase": 1, "hydrolase": 1}
    runs = mlflow.search_runs(search_all_experiments=True)
    assert runs["params.protocol.resolved"].iloc[0] == "fsmol"
    assert runs["params.n_val_assays"].iloc[0] == "39"  # FS-Mol's valid tasks, the default

    code = main(["-q", "benchmark", "fewshot", "--input", "dataset:fsmol", "--test-assays", "CHEMBL1066254",
                 "--protocol", "balanced", "--support-sizes", "16", "--methods", "rf_ecfp", "--draws", "2",
                 "-o", str(tmp_path / "balanced"), "-j", "1"])
    balanced = pd.read_csv(tmp_path / "balanced" / "per_task.csv")
    assert code == 0 and (balanced["fraction_positive_train"] == 0.5).all()


def test_fewer_draws_for_a_named_method_and_fsmols_table_defaults(tmp_path, capsys):
    from molprior.config import FSMOL_METHOD_DRAWS, FSMOL_TABLE_METATRAIN, FewShotConfig
    from molprior.workflows.fewshot import benchmark_metatrain_config, hyper_metatrain_config, prepare, with_defaults

    out = tmp_path / "fewer"
    code = main(["-q", "benchmark", "fewshot", "--input", "dataset:fsmol", "--test-assays", "CHEMBL1066254",
                 "--support-sizes", "16", "--methods", "rf_ecfp,knn_tanimoto", "--draws", "3",
                 "--method-draws", "rf_ecfp=1", "-o", str(out), "-j", "1"])
    assert code == 0
    per_task = pd.read_csv(out / "per_task.csv")
    assert per_task.groupby("method")["draw"].nunique().to_dict() == {"knn_tanimoto": 3, "rf_ecfp": 1}
    assert "rf_ecfp: 1 draw per assay and size (the others 3)" in capsys.readouterr().out
    with pytest.raises(SystemExit) as stop:
        main(["benchmark", "fewshot", "--input", "dataset:fsmol", "--method-draws", "rf_ecfp=0",
              "-o", str(tmp_path / "bad"), "-j", "1"])
    assert stop.value.code == 2 and "positive count" in capsys.readouterr().err

    prepared = prepare(FewShotConfig(input="dataset:fsmol"), 1)
    given = FewShotConfig(input="dataset:fsmol", metatrain={"trainer": {"max_epochs": 9}, "query_size": 32})
    resolved = with_defaults(given, prepared)
    assert resolved.method_draws == FSMOL_METHOD_DRAWS
    # the user's meta-training keys over FS-Mol's table recipe, nested sections key by key
    assert resolved.metatrain == given.metatrain and resolved.metatrain_defaults == FSMOL_TABLE_METATRAIN
    base = benchmark_metatrain_config(resolved, 0)
    assert (base.trainer.max_epochs, base.trainer.patience) == (9, 4)
    assert base.query_size == 32 and base.val_protocol == "fsmol" and base.steps_per_epoch == 50
    # hyper_maml's own recipe, not the table's budget, under the user's keys
    hyper = hyper_metatrain_config(resolved, 0)
    assert hyper.freeze_prior and hyper.head.hyper is not None and hyper.steps_per_epoch == 200
    assert (hyper.trainer.max_epochs, hyper.query_size) == (9, 32)
    assert with_defaults(FewShotConfig(input="dataset:fsmol", method_draws={}), prepared).method_draws == {}


def test_other_inputs_need_test_assays(tmp_path, capsys):
    code = main(["benchmark", "fewshot", "--input", str(long_file(tmp_path / "assays.csv", 40)), "--methods", "rf_ecfp",
                 "-o", str(tmp_path / "b"), "-j", "1"])
    assert code == 2 and "no test assays given" in capsys.readouterr().err


def test_the_molprior_method_adapts_a_given_model(tmp_path, capsys, fewshot_models):
    data = str(long_file(tmp_path / "assays.csv", 40))
    code = main(["-q", "benchmark", "fewshot", "--input", data, "--test-assays", ",".join(TEST), "--support-sizes", "16",
                 "--draws", "2", "--methods", "rf_ecfp,molprior", "--model", str(fewshot_models[0]),
                 "-o", str(tmp_path / "given"), "-j", "1"])
    results = pd.read_csv(tmp_path / "given" / "results.csv")
    assert code == 0 and list(dict.fromkeys(results["method"])) == ["rf_ecfp", "molprior"]
    seen = pd.read_csv(tmp_path / "given" / "seen_molecules.csv")
    assert seen.empty  # the model never saw the test assay's molecules


def test_neural_methods_score_the_same_in_worker_processes(tmp_path):
    """The shipped model and a fine-tuned head, scored in the main process and in two workers
    (one thread each): the same rows, in the same order, to the last digit."""
    data = str(long_file(tmp_path / "assays.csv", 60))
    tables = []
    for jobs in ("1", "2"):
        out = tmp_path / f"j{jobs}"
        code = main(["-q", "benchmark", "fewshot", "--input", data, "--test-assays", ",".join(TEST + TRAIN[:2]),
                     "--support-sizes", "16", "--draws", "2", "--methods", "pretrained_finetune,molprior",
                     "--finetune-steps", "5", "-o", str(out), "-j", jobs])
        assert code == 0
        tables.append(pd.read_csv(out / "per_task.csv"))
    assert len(tables[0]) == 3 * 2 * 2
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_molecules_the_given_model_was_trained_on_are_left_out_for_every_method(tmp_path, fewshot_models):
    """The tiny model was meta-trained on the first 80 molecules of CHEMBL233_Ki (and of two
    related receptors' assays, which share molecules with it): scored on that assay's first 200,
    every molecule it saw is left out of supports and queries alike, and the run says so."""
    data = str(long_file(tmp_path / "assays.csv", 200))
    out = tmp_path / "trained-on"
    code = main(["-q", "benchmark", "fewshot", "--input", data, "--test-assays", TRAIN[0], "--support-sizes", "16",
                 "--draws", "2", "--methods", "rf_ecfp,molprior", "--model", str(fewshot_models[0]),
                 "-o", str(out), "-j", "1"])
    assert code == 0
    seen = pd.read_csv(out / "seen_molecules.csv")
    assert seen[["assay", "molecules", "action"]].to_dict("records") == [
        {"assay": TRAIN[0], "molecules": 200, "action": "left out"}]
    n_seen = int(seen["seen"].iloc[0])
    assert 80 <= n_seen < 200
    per_task = pd.read_csv(out / "per_task.csv")
    assert set(per_task["method"]) == {"rf_ecfp", "molprior"}
    assert ((per_task["size"] + per_task["num_test"]) == 200 - n_seen).all()  # only the unseen molecules
    runs = mlflow.search_runs(search_all_experiments=True)
    assert runs["metrics.test_molecules_seen_by_model"].max() == n_seen


def test_fsmols_valid_tasks_can_be_the_test_set(tmp_path):
    """Scoring on FS-Mol's valid tasks (to measure a model's calibration there) needs no other
    validation set while no method is meta-trained."""
    code = main(["-q", "benchmark", "fewshot", "--input", "dataset:fsmol", "--test-assays", "split:valid",
                 "--support-sizes", "16", "--draws", "1", "--methods", "knn_tanimoto", "-o", str(tmp_path / "v"),
                 "-j", "1"])
    per_task = pd.read_csv(tmp_path / "v" / "per_task.csv")
    assert code == 0 and per_task["task"].nunique() == 39


HYPER_METHODS = ["hyper_maml", "hyper_maml_described", "hyperclip", "hyperldm", "nearest_task", "hyper_start"]


def test_hyper_maml_and_the_zero_shot_methods_in_one_run(tmp_path, capsys):
    from _fewshot import fsmol_subset

    data = fsmol_subset(tmp_path / "fsmol")
    settings = tmp_path / "metatrain.yaml"
    settings.write_text(yaml.safe_dump({"steps_per_epoch": 5, "tasks_per_step": 4, "query_size": 32,
                                        "trainer": {"max_epochs": 1},
                                        "zeroshot": {"hyperclip": {"epochs": 20},
                                                     "hyperldm": {"epochs": 20, "steps": 20, "samples": 4}}}))
    out = tmp_path / "bench"
    assert main(["benchmark", "fewshot", "--input", str(data), "--support-sizes", "16", "--draws", "2",
                 "--methods", ",".join(HYPER_METHODS), "--metatrain-config", str(settings), "-o", str(out),
                 "-j", "1"]) == 0
    printed = capsys.readouterr().out
    assert "@0: zero-shot, from the task's description alone" in printed and "1 draw per assay" not in printed
    results = pd.read_csv(out / "results.csv")
    sizes = results.groupby("method")["support_size"].unique().map(list).to_dict()
    assert sizes == {**{m: [0] for m in ("hyperclip", "hyperldm", "nearest_task", "hyper_start")},
                     "hyper_maml": [16], "hyper_maml_described": [16]}
    assert (results["n_tasks"] == 2).all()  # the piece's two test tasks
    zero = results[results["support_size"] == 0]
    assert (zero["n_draws"] == 2).all()  # one episode per task: the whole task
    classes = pd.read_csv(out / "by_protein_class.csv")
    assert set(classes["support_size"]) == {0, 16}
    # the fixed prior (the shipped few-shot model) has seen some FS-Mol molecules: counted, as FS-Mol keeps them
    seen = pd.read_csv(out / "seen_molecules.csv")
    assert set(seen["action"]) <= {"kept (FS-Mol holds out assays)"}
    assert (out / "models" / "hyper_maml-seed0" / "model" / "zeroshot" / "zeroshot.json").is_file()


def test_zero_shot_methods_need_described_tasks(tmp_path, capsys):
    code = main(["benchmark", "fewshot", "--input", str(long_file(tmp_path / "assays.csv", 40)), "--test-assays",
                 ",".join(TEST), "--val-assays", ",".join(VAL), "--methods", "nearest_task", "-o", str(tmp_path / "b"),
                 "-j", "1"])
    assert code == 2 and "0 of 3 tasks carry one" in capsys.readouterr().err
    assert not (tmp_path / "b" / "models" / "hyper_maml-seed0" / "model").exists()  # said before any training
