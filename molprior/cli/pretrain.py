"""``molprior pretrain`` and ``molprior generate``: the generative prior."""

from __future__ import annotations

import argparse
import sys

from molprior.cli.options import add_jobs_option, int_list, jobs

DEFAULT_CONFIG = "pretrain"


def add_parser(commands) -> None:
    pretrain = commands.add_parser(
        "pretrain", help="train the generative model (graph encoder -> SELFIES decoder) on unlabelled molecules",
        description="Pretrain the molecular VAE on a corpus of SMILES with Lightning. Checkpoints, the exported model "
                    "(model/: generator and encoder/ in safetensors), rejected.csv and loss_curves.png land in "
                    "--output; everything is logged to MLflow. --resume continues from the last checkpoint there.")
    pretrain.add_argument("-i", "--input", "--corpus", dest="corpus", metavar="FILE", help="SMILES file (.smi/.txt, or CSV with a SMILES column); default from --config")
    pretrain.add_argument("--output", "-o", required=True, help="output directory")
    pretrain.add_argument("--config", help=f"YAML configuration: a file or a preset (e.g. {DEFAULT_CONFIG}, pretrain_peptides)")
    pretrain.add_argument("--epochs", type=int, help="maximum epochs (overrides the configuration)")
    pretrain.add_argument("--batch-size", type=int, help="molecules per batch (overrides the configuration)")
    pretrain.add_argument("--max-molecules", type=int, help="use only the first N lines of the corpus")
    pretrain.add_argument("--smiles-column", help="CSV column holding SMILES")
    pretrain.add_argument("--max-tokens", type=int, help="longest SELFIES (in tokens) the decoder learns; longer "
                                                            "molecules go to rejected.csv")
    pretrain.add_argument("--resume", action="store_true",
                          help="continue from the newest usable checkpoint in --output, in the same MLflow run")
    continued = pretrain.add_argument_group(
        "continued pretraining and peptides",
        "--init-from starts from a trained generator: its weights and shape are kept and its SELFIES vocabulary "
        "grows by the corpus's new tokens. --peptides mixes a peptide corpus into the molecules: each sequence "
        "becomes an all-atom molecule (RDKit MolFromSequence).")
    continued.add_argument("--init-from", metavar="MODEL",
                           help="generator to continue from: a model or pretraining output directory, an MLflow "
                                "URI, or 'shipped' (the prior shipped with molprior)")
    continued.add_argument("--peptides", metavar="FILE",
                           help="peptide corpus: CSV/TSV (.gz) with a 'peptide' column, or one sequence per line")
    continued.add_argument("--max-peptides", type=int, metavar="N", help="a seeded random sample of N peptides")
    continued.add_argument("--peptide-lengths", type=int_list, metavar="MIN,MAX",
                           help="peptide lengths kept, in residues (default 8,15)")
    continued.add_argument("--exclude-alleles", metavar="A,B,...|YAML",
                           help="leave out every peptide measured on these alleles (needs an 'allele' column): a "
                                "comma-separated list, or a YAML file whose 'held_out:' list is used, e.g. "
                                "mhc_benchmark.yaml (the preset)")
    hardware = pretrain.add_argument_group(
        "hardware (Lightning Trainer flags; also settable in the configuration's trainer: block)",
        "With --strategy ddp Lightning starts one process per device (re-running this command) and each "
        "trains on its share of the batches; only rank 0 logs to MLflow and writes files. On CPU the "
        "processes talk over gloo, on GPUs over NCCL.")
    hardware.add_argument("--accelerator", help="cpu (default), gpu, or auto")
    hardware.add_argument("--devices", help="devices per machine, e.g. 4 (GPUs, or CPU processes with ddp)")
    hardware.add_argument("--strategy", help="auto, or ddp for several devices or machines")
    hardware.add_argument("--num-nodes", type=int, help="machines taking part (DDP; set MASTER_ADDR, MASTER_PORT "
                                                        "and NODE_RANK on each, see README)")
    add_jobs_option(pretrain)
    pretrain.set_defaults(handler=run_pretrain)

    generate = commands.add_parser(
        "generate", help="sample new molecules from a pretrained generative model",
        description="Sample N molecules from the latent prior and write their SMILES (one CSV column 'smiles'). "
                    "MODEL is a pretraining output directory, a model directory, an MLflow URI (runs:/ID/model, "
                    "models:/NAME@ALIAS), or, when omitted, the prior shipped with molprior.")
    generate.add_argument("--model", help="model to sample from (default: the shipped prior)")
    generate.add_argument("-n", type=int, default=100, help="number of molecules (default 100)")
    generate.add_argument("--output", "-o", required=True, help="output CSV file")
    generate.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default 1.0)")
    generate.add_argument("--seed", type=int, default=None, help="random seed for reproducible samples")
    generate.set_defaults(handler=run_generate)


def run_pretrain(args: argparse.Namespace) -> int:
    from molprior.config import PretrainConfig, load_yaml_config
    from molprior.data.corpus import CorpusError
    from molprior.errors import InputError
    from molprior.workflows.pretrain import run_pretraining

    flags = ("batch_size", "max_molecules", "smiles_column", "max_tokens", "init_from", "peptides", "max_peptides",
             "peptide_lengths", "exclude_alleles")
    devices = int(args.devices) if args.devices and args.devices.isdigit() else args.devices
    config = load_yaml_config(PretrainConfig, args.config, corpus=args.corpus or None,
                              **{name: getattr(args, name) for name in flags},
                              trainer={"max_epochs": args.epochs, "accelerator": args.accelerator,
                                       "strategy": args.strategy, "num_nodes": args.num_nodes, "devices": devices})
    if config.peptide_lengths is not None and len(config.peptide_lengths) != 2:
        print("molprior pretrain: error: --peptide-lengths takes MIN,MAX", file=sys.stderr)
        return 2
    try:
        outcome = run_pretraining(config, args.output, resume=args.resume, jobs=jobs(args.jobs),
                                  progress=not args.quiet and sys.stderr.isatty())
    except (CorpusError, InputError, FileNotFoundError) as error:
        print(f"molprior pretrain: error: {error}", file=sys.stderr)
        return 2
    if outcome is None:  # a DDP process other than rank 0: it trained; rank 0 reports
        return 0
    for name, value in outcome.metrics.items():
        print(f"{name}: {value:.3f}")
    print(f"model: {outcome.model_dir}  (encoder: {outcome.model_dir / 'encoder'})")
    print(f"MLflow: runs:/{outcome.run_id}/encoder; logged models models:/{outcome.model_ids['generator']} (generator), "
          f"models:/{outcome.model_ids['encoder']} (encoder)")
    return 0


def run_generate(args: argparse.Namespace) -> int:
    import pandas as pd

    from molprior.metrics.generation import generation_metrics
    from molprior.files import write_csv
    from molprior.tracking import runs
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.models.generative import sample_smiles
    from molprior.serialization import load_generator

    if args.n < 1:
        print("molprior generate: error: -n must be at least 1", file=sys.stderr)
        return 2
    with runs.tracked_run("generate", params={"model": args.model or "shipped prior", "n": args.n,
                                              "temperature": args.temperature, "seed": args.seed}):
        model, vocabulary, _ = load_generator(resolve_model_dir(args.model, kind="generator"))
        smiles = sample_smiles(model, vocabulary, args.n, args.temperature, args.seed)
        path = write_csv(pd.DataFrame({"smiles": smiles}), args.output)
        metrics = generation_metrics(smiles)
        runs.log_metrics({k: v for k, v in metrics.items()})
        runs.log_files([path])
    print(f"wrote {len(smiles)} molecules to {path}: validity {metrics['validity']:.3f}, "
          f"uniqueness {metrics['uniqueness']:.3f}, internal diversity {metrics['internal_diversity']:.3f}")
    return 0
