"""``molprior benchmark fewshot`` (the few-shot assay protocol), ``benchmark regression`` and
``benchmark mhc``."""

from __future__ import annotations

import argparse

from molprior.cli.benchmark_mhc import add_mhc_parser
from molprior.cli.benchmark_regression import add_regression_parser
from molprior.cli.options import (NAMES_HELP, add_input_options, add_jobs_option, comma_list, int_list, int_map,
                                  jobs, name_list)

#: Every few-shot method (kept here so that ``--help`` does not import torch).
ALL_METHODS = ("rf_ecfp", "knn_tanimoto", "gnn_scratch", "pretrained_finetune", "protonet", "maml_scratch",
               "maml_pretrained", "adkf", "adkf_scratch", "hyper_maml", "hyper_maml_described", "hyperclip",
               "hyperldm", "nearest_task", "hyper_start", "molprior")
#: The methods that read a task's description (named explicitly: ``all`` is every few-shot
#: method, and other inputs than FS-Mol's carry no descriptions).
DESCRIPTION_METHODS = ("hyper_maml_described", "hyperclip", "hyperldm", "nearest_task", "hyper_start")


def add_parser(commands) -> None:
    parser = commands.add_parser("benchmark", help="benchmark protocols",
                                 description="Run the project's benchmark protocols.")
    sub = parser.add_subparsers(dest="benchmark_command", metavar="PROTOCOL")
    sub.required = True
    fewshot = sub.add_parser(
        "fewshot", help="few-shot assay protocols (FS-Mol's own, and balanced)",
        description="For each test assay and support size k, draw supports, score the rest of the assay, and report "
                    "ΔAUPRC (average precision minus the query's positive fraction) and ROC-AUC per method, mean over "
                    "draws, then assays. --protocol fsmol draws supports as FS-Mol does (the assay's class ratio "
                    "kept, StratifiedShuffleSplit(train_size=k, random_state=draw), draws 0 to 9); it is the default "
                    "for FS-Mol's data (dataset:fsmol, or FS-Mol's task directory or tar), with FS-Mol's labels, its "
                    "test tasks, its valid tasks for checkpoint choice and sizes 16,32,64,128. --protocol balanced "
                    "draws k/2 actives and k/2 inactives (assays binarised at their median unless already 0/1). "
                    "Accepts long files and wide multi-task files (MoleculeNet); for MoleculeNet's 2-way k-shot give "
                    "support size 2k.")
    fewshot.add_argument("-i", "--input", required=True,
                         help="input file, MoleculeACE directory, FS-Mol directory or tar, or dataset:NAME")
    fewshot.add_argument("--protocol", choices=["fsmol", "balanced"],
                         help="how supports are drawn (default: fsmol for FS-Mol's data, balanced otherwise)")
    fewshot.add_argument("--test-assays", type=name_list, default=[], metavar="A,B,...",
                         help="assays (or wide-file columns) to evaluate on (required unless the input is FS-Mol's, "
                              "whose test tasks are the default; split:test, split:valid, split:train name FS-Mol's "
                              "folds): " + NAMES_HELP)
    fewshot.add_argument("--support-sizes", type=int_list, default=None, metavar="16,32,64",
                         help="support sizes (default 16,32,64,128 for FS-Mol's data, 16,32,64 otherwise)")
    fewshot.add_argument("--val-assays", type=name_list, default=[], metavar="A,B,...",
                         help="meta-validation assays: the meta-trained methods choose their checkpoints on them "
                              "(required with the meta-trained methods unless the input is FS-Mol's, "
                              "whose valid tasks are the default); written as --test-assays")
    fewshot.add_argument("--methods", type=comma_list, default=["rf_ecfp", "knn_tanimoto"], metavar="M,...",
                         help="methods to compare (default rf_ecfp,knn_tanimoto; available: " + ", ".join(ALL_METHODS)
                              + "; 'all' for every few-shot one; molprior is the shipped few-shot model, or --model, "
                              "adapted per support; hyper_maml a hypernetwork head meta-trained in the run on the "
                              "shipped model's features; hyper_maml_described the same started from the task's "
                              "description, and hyperclip, hyperldm, nearest_task, hyper_start zero-shot heads from "
                              "the description alone, scored at support size 0 on the whole task: FS-Mol's tasks "
                              "carry descriptions)")
    fewshot.add_argument("--draws", type=int, default=10, help="supports drawn per assay and size (default 10)")
    fewshot.add_argument("--method-draws", type=int_map, default=None, metavar="M=N,...",
                         help="score these methods on their first N draws only (the same supports as the others'); "
                              "the table says so (default on FS-Mol's data: gnn_scratch=1,pretrained_finetune=2, "
                              "the baselines that train a network on every support; elsewhere none)")
    fewshot.add_argument("--seeds", type=int_list, default=[0], metavar="0,1,...",
                         help="seeds; meta-training and draws are repeated per seed (default 0)")
    fewshot.add_argument("--metatrain-config", metavar="YAML",
                         help="meta-training settings for the meta-trained methods, e.g. "
                              "the metatrain preset (default: molprior's defaults; on FS-Mol's data "
                              "200 meta-steps of 4 tasks each, checkpoints chosen on 3 draws of its valid tasks)")
    fewshot.add_argument("--finetune-steps", type=int, default=100,
                         help="Adam steps on the support for gnn_scratch and pretrained_finetune (default 100)")
    fewshot.add_argument("--model", help="an already meta-trained few-shot model (directory, runs:/ or models:/ URI): "
                                         "the `molprior` method adapts it per support (default: the shipped one); "
                                         "maml_pretrained takes it instead of meta-training one")
    fewshot.add_argument("-o", "--output", required=True, help="output directory for results.csv and the rest")
    add_input_options(fewshot)
    add_jobs_option(fewshot)
    fewshot.set_defaults(handler=run_fewshot)
    add_regression_parser(sub)
    add_mhc_parser(sub)


def run_fewshot(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from molprior.config import FewShotConfig, metatrain_overrides
    from molprior.tracking import runs
    from molprior.tracking.artifacts import SHIPPED_FEWSHOT
    from molprior.workflows.fewshot import run_benchmark

    methods = [m for m in ALL_METHODS if m not in DESCRIPTION_METHODS] if args.methods == ["all"] else args.methods
    if args.methods == ["all"] and not (SHIPPED_FEWSHOT / "model.json").exists():
        # an installation without the shipped model: `all` is every method that can run
        methods = [m for m in methods if m != "hyper_maml" and (m != "molprior" or args.model)]
    config = FewShotConfig(input=args.input, format=args.format, smiles_column=args.smiles_column,
                           target_columns=args.target_columns, assay_column=args.assay_column,
                           value_column=args.value_column, test_assays=args.test_assays,
                           support_sizes=args.support_sizes, protocol=args.protocol, methods=methods, draws=args.draws,
                           seed=args.seeds[0], seeds=args.seeds, val_assays=args.val_assays,
                           metatrain=metatrain_overrides(args.metatrain_config), model=args.model,
                           finetune_steps=args.finetune_steps, method_draws=args.method_draws)
    with runs.tracked_run("benchmark-fewshot", params={k: v for k, v in asdict(config).items() if v is not None}):
        runs.log_input_file(args.input)
        outcome = run_benchmark(config, args.output, jobs=jobs(args.jobs))
    print(outcome.table_text)
    print(f"results: {outcome.outputs['results']}")
    return 0
