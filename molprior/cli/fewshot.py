"""``molprior metatrain``, ``adapt`` and ``predict``: the few-shot model's life cycle."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from molprior.cli.options import (NAMES_HELP, add_device_option, add_input_options, add_jobs_option, device,
                                  input_spec, int_list, jobs, name_list)

DEFAULT_CONFIG = "metatrain"
MODEL_HELP = "a model directory, an MLflow run URI (runs:/ID/model) or a registry URI (models:/NAME@ALIAS)"


def add_parser(commands) -> None:
    metatrain = commands.add_parser(
        "metatrain", help="meta-train a few-shot model across assays (MAML, first order, ANIL, Meta-SGD, ProtoNet)",
        description="Each assay is a task. The encoder (the shipped prior, a pretraining run, or random) and a task "
                    "head are meta-trained on the meta-training assays; the checkpoint with the best ΔAUPRC on the "
                    "meta-validation assays is exported to OUTPUT/model and logged to MLflow. Test assays are never "
                    "read. Given allele measurements (peptide, allele, ic50; or the mhc preset), each allele is a "
                    "task and the MHC model is trained as `molprior peptides train` does, without registering it.")
    metatrain.add_argument("-i", "--input", help="assay file, MoleculeACE directory or dataset:NAME (default from --config)")
    metatrain.add_argument("--output", "-o", required=True, help="output directory")
    metatrain.add_argument("--config", help=f"YAML configuration: a file or a preset (e.g. {DEFAULT_CONFIG}, fsmol_adkf)")
    metatrain.add_argument("--prior", help="where to start: shipped, random, a pretraining run's directory or "
                                           "URI (its encoder), or a meta-training run's (its encoder and head)")
    metatrain.add_argument("--algorithm", choices=("maml", "protonet", "adkf"))
    metatrain.add_argument("--task-type", choices=("classification", "regression"),
                           help="classification (assays split at their median) or regression (censored MSE)")
    metatrain.add_argument("--first-order", action="store_true", default=None, help="first-order MAML")
    metatrain.add_argument("--anil", action="store_true", default=None, help="adapt only the head in the inner loop")
    metatrain.add_argument("--meta-sgd", action="store_true", default=None, help="learn per-parameter inner rates")
    metatrain.add_argument("--inner-steps", type=int)
    metatrain.add_argument("--inner-lr", type=float)
    metatrain.add_argument("--val-assays", type=name_list, metavar="A,B,...",
                           help="meta-validation assays or alleles (checkpoint choice): " + NAMES_HELP)
    metatrain.add_argument("--test-assays", type=name_list, metavar="A,B,...",
                           help="assays (alleles) never to read; written as --val-assays")
    metatrain.add_argument("--epochs", type=int, help="validations (each after steps_per_epoch meta-steps)")
    metatrain.add_argument("--resume", action="store_true",
                           help="continue from the newest usable checkpoint in --output, in the same MLflow run "
                                "(after a crash or kill -9); without one, start from scratch")
    metatrain.add_argument("--support-sizes", type=int_list, metavar="16,32,64")
    add_input_options(metatrain)
    add_jobs_option(metatrain)
    metatrain.set_defaults(handler=run_metatrain)

    adapt = commands.add_parser(
        "adapt", help="adapt a meta-trained model to one assay's measured molecules",
        description="Read the support file (SMILES and a 0/1 label or a measurement per molecule; measurements are "
                    "split at the median for classification models), adapt the model with its own rule (a few "
                    "inner-loop steps for MAML) and save the adapted model in OUTPUT, also logged to MLflow. With an "
                    "MHC model, the support is an allele's measurements (peptide, ic50, measurement_inequality) and "
                    "--assay names the allele, as `molprior peptides adapt` (unregistered).")
    adapt.add_argument("--model", help=f"{MODEL_HELP} (default: the shipped few-shot model, meta-trained on FS-Mol)")
    adapt.add_argument("-i", "--input", "--support", dest="support", metavar="FILE",
                       help="support file (CSV); without one, --description makes a zero-shot model")
    adapt.add_argument("--description", metavar="TEXT",
                       help="the assay's target in words (e.g. 'Acetylcholinesterase; EC 3.1.1.7; enzyme > hydrolase; "
                            "Homo sapiens; binding assay'): with a hyper_maml --model, the head starts from the code "
                            "of this description, or is that code alone when no support is given (zero-shot)")
    adapt.add_argument("--output", "-o", required=True, help="directory for the adapted model")
    adapt.add_argument("--assay", help="which assay of a multi-assay support file; with an MHC model, the allele")
    adapt.add_argument("--seed", type=int, default=0)
    add_input_options(adapt)
    add_jobs_option(adapt)
    adapt.set_defaults(handler=run_adapt)

    predict = commands.add_parser(
        "predict", help="score molecules with an adapted model",
        description="Write every input row in order with probability_active (or value), support_similarity and an "
                    "error column for rows that could not be scored. With an MHC model, the input is a peptide list "
                    "(or peptide,allele table) and --assay the allele or genotype, as `molprior peptides score`.")
    predict.add_argument("--model", help=f"an adapted model: {MODEL_HELP}; with --support, the model to adapt "
                                         "first (default: the shipped few-shot model)")
    predict.add_argument("--support", help="adapt --model to this support file first (CSV of SMILES and 0/1 labels "
                                           "or measurements); the adapted model is kept in OUTPUT.model/")
    predict.add_argument("-i", "--input", required=True, help="CSV with a SMILES column, or a .smi file")
    predict.add_argument("--output", "-o", required=True, help="output CSV")
    predict.add_argument("--smiles-column", help="CSV column holding SMILES")
    predict.add_argument("--assay", help="for a registered model with several adapted heads: which one (default: "
                                         "the model's default assay); with --support, which assay of the support file; "
                                         "with an MHC model, the allele or a comma-separated genotype")
    predict.add_argument("--chunk-rows", type=int, default=20_000,
                         help="rows read, scored and written at a time (memory stays bounded; default 20000)")
    add_jobs_option(predict)
    add_device_option(predict)
    predict.set_defaults(handler=run_predict)


def _allele_measurements(args: argparse.Namespace) -> bool:
    """Whether ``metatrain`` is given allele measurements: ``--format mhc``, an input that reads
    as MHC measurements (peptide and allele columns) or an MHC configuration (the ``mhc``
    preset, an MHC run's settings.yaml)."""
    from molprior.config import is_mhc_config
    from molprior.data.readers import sniff_format

    if args.format != "auto":
        return args.format == "mhc"
    if args.input and Path(args.input).is_file():
        return sniff_format(args.input) == "mhc"
    return is_mhc_config(args.config)


def _metatrain_alleles(args: argparse.Namespace) -> int:
    """``molprior metatrain`` on allele measurements: the MHC model (``molprior peptides train``
    without registering), each allele a task.  ``--val-assays`` are the meta-validation
    alleles, ``--test-assays`` the alleles left out entirely."""
    from molprior.config import MHCTrainConfig, load_yaml_config
    from molprior.errors import InputError
    from molprior.workflows.mhc_train import run_mhc_training

    unsupported = [flag for flag, value in (("--algorithm", args.algorithm), ("--task-type", args.task_type),
                                            ("--resume", args.resume or None)) if value is not None]
    if args.algorithm == "maml":
        unsupported.remove("--algorithm")
    if unsupported:
        raise InputError(f"{', '.join(unsupported)}: the MHC model is meta-trained with MAML on the affinity "
                         "objective and does not resume; leave them out for allele measurements")
    config = load_yaml_config(MHCTrainConfig, args.config if args.config else "mhc", data=args.input, prior=args.prior,
                              val_alleles=args.val_assays, held_out=args.test_assays, support_sizes=args.support_sizes,
                              maml=_maml_flags(args), trainer={"max_epochs": args.epochs})
    outcome = run_mhc_training(config, args.output, progress=not args.quiet and sys.stderr.isatty())
    metrics = outcome.metrics
    print(f"MHC model: {len(outcome.predictor.supported)} alleles; best meta-validation ROC-AUC "
          f"{metrics['best_val_roc_auc']:.3f}")
    print(f"model: {outcome.model_dir}")
    print(f"MLflow: runs:/{outcome.run_id}/model")
    return 0


def _maml_flags(args: argparse.Namespace) -> dict:
    """The MAML settings of the command line (``None`` where a flag was not given)."""
    return {"first_order": args.first_order, "anil": args.anil, "learn_inner_lr": args.meta_sgd,
            "inner_steps": args.inner_steps, "inner_lr": args.inner_lr}


def run_metatrain(args: argparse.Namespace) -> int:
    from molprior.config import MetaTrainConfig, load_yaml_config
    from molprior.workflows.metatrain import run_metatraining

    if _allele_measurements(args):
        return _metatrain_alleles(args)

    config = load_yaml_config(
        MetaTrainConfig, args.config, input=args.input, prior=args.prior, val_assays=args.val_assays, test_assays=args.test_assays,
        support_sizes=args.support_sizes, format=None if args.format == "auto" else args.format,
        smiles_column=args.smiles_column, target_columns=args.target_columns, assay_column=args.assay_column,
        value_column=args.value_column, trainer={"max_epochs": args.epochs},
        learner={"algorithm": args.algorithm, "task_type": args.task_type, "maml": _maml_flags(args)})
    outcome = run_metatraining(config, args.output, jobs=jobs(args.jobs), progress=not args.quiet and sys.stderr.isatty(),
                               resume=args.resume)
    metrics = outcome.metrics
    print(f"best meta-validation ΔAUPRC: {metrics['best_val_delta_auprc']:.3f} at meta-step {metrics['selected_step']} "
          f"of {metrics['steps_trained']} (before meta-training: {metrics['initial_val_delta_auprc']:.3f})")
    print(f"model: {outcome.model_dir}")
    print(f"MLflow: runs:/{outcome.run_id}/model; logged model models:/{outcome.model_id}")
    return 0


def _mhc_allele(args: argparse.Namespace) -> str:
    """The allele an MHC model adapts to: ``--assay`` (an allele is an MHC model's assay)."""
    if not args.assay:
        from molprior.errors import InputError

        raise InputError("an MHC model adapts to one allele: give it as --assay (e.g. --assay HLA-B*57:01)")
    return args.assay


def _adapt_allele(allele: str, measurements: str, output: str, model: str):
    """``molprior adapt`` with an MHC model: ``molprior peptides adapt`` without registering
    (``model`` as the user named it: the new model's lineage records it)."""
    from molprior.workflows.mhc_adapt import run_adapt_allele

    outcome, _ = run_adapt_allele(allele, measurements, output, model, None, None)
    print(f"{'re-adapted' if outcome.replaced else 'adapted'} {outcome.allele} to {outcome.measurements} measurements "
          f"({outcome.binders} binders; {len(outcome.rejected)} rows rejected) -> {outcome.model_dir}")
    return outcome


def run_adapt(args: argparse.Namespace) -> int:
    from molprior.errors import InputError
    from molprior.tracking.artifacts import resolve_model_kind
    from molprior.workflows.adapt import run_adapt as adapt

    if args.model is not None and resolve_model_kind(args.model)[0] == "mhc":
        if args.support is None:
            raise InputError("an MHC model adapts to an allele's measurements: give them as --support")
        _adapt_allele(_mhc_allele(args), args.support, args.output, args.model)
        return 0
    outcome = adapt(args.model, args.support, args.output, input_spec(args), args.assay, jobs(args.jobs), args.seed,
                    description=args.description)
    if args.support is None:
        print(f"zero-shot model '{outcome.assay}' from the description alone (no measurements read)")
    else:
        print(f"adapted to {outcome.n_support} molecules of {outcome.assay} ({outcome.n_actives} actives) "
              f"in {outcome.seconds:.2f} s; {len(outcome.rejected)} support lines rejected")
    if outcome.n_seen is not None:
        print(f"{outcome.n_seen} of the {outcome.n_support} support molecules were in the model's meta-training data")
    print(f"model: {outcome.model_dir}")
    print(f"MLflow: runs:/{outcome.run_id}/model; logged model models:/{outcome.model_id}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from molprior.files import check_output_path
    from molprior.workflows.predict import run_predict as predict

    check_output_path(args.output, [args.input, *([args.support] if args.support else [])])  # before any loading
    model = args.model
    if model is not None:
        from molprior.tracking.artifacts import resolve_model_kind

        kind, model_dir = resolve_model_kind(model)
        if kind == "mhc":
            return _predict_peptides(args, model_dir)
    if args.support:
        from molprior.data.readers import InputSpec
        from molprior.workflows.adapt import run_adapt as adapt

        adapted = adapt(model, args.support, f"{args.output}.model", InputSpec(), args.assay, jobs(args.jobs))
        print(f"adapted to {adapted.n_support} molecules of {adapted.assay} ({adapted.n_actives} actives) "
              f"in {adapted.seconds:.2f} s: {adapted.model_dir}")
        model = adapted.model_dir
    elif model is None:
        from molprior.errors import InputError

        raise InputError("give --model (an adapted model) or --support (a support file to adapt the shipped model to)")
    outcome = predict(model, args.input, args.output, args.smiles_column, jobs(args.jobs), args.chunk_rows,
                      None if args.support else args.assay, device(args.device))
    print(f"scored {outcome.scored} of {outcome.rows} rows ({outcome.errors} with an error): {outcome.output}")
    if outcome.seen is not None:
        print(f"{outcome.seen} of the {outcome.scored} scored molecules were in the model's meta-training data")
    return 0


def _predict_peptides(args: argparse.Namespace, model_dir) -> int:
    """``molprior predict`` with an MHC model: the peptides of ``--input`` scored against
    ``--assay`` (an allele or a comma-separated genotype; else the input's ``allele`` column),
    as ``molprior peptides score`` does; with ``--support``, the allele's measurements adapt
    the model first."""
    from molprior.cli.peptides import report_scoring
    from molprior.serialization import load_predictor
    from molprior.workflows.peptide_scoring import score_peptide_file

    if args.support:
        if "," in (args.assay or ""):
            from molprior.errors import InputError

            raise InputError("with --support, --assay names the one allele the measurements are of")
        model_dir = _adapt_allele(_mhc_allele(args), args.support, f"{args.output}.model", args.model).model_dir
    alleles = [a.strip() for a in args.assay.split(",") if a.strip()] if args.assay else None
    return report_scoring(score_peptide_file(load_predictor(model_dir).to(device(args.device)), args.input,
                                             args.output, alleles, args.chunk_rows, jobs=jobs(args.jobs)))
