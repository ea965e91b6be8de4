"""Does pretraining help?  Probes on frozen embeddings: pretrained vs random encoder vs ECFP4.

    python pipelines/bench_pretrain.py [--model MODEL] [--output DIR] [--draws 10]

1. MoleculeACE regression, its own train/test split, all 30 targets: RMSE of a ridge
   (linear) probe and of a small MLP fitted on each representation.
2. The few-shot protocol on the project's 8 test assays (support sizes 16/32/64): a
   logistic-regression probe on each representation.

Representations: the encoder of MODEL (default: the shipped prior), the same architecture
randomly initialised (seed 0), and ECFP4 (2048 bits).  Prints the tables (and how many
targets the pretrained encoder wins against the random one), writes CSVs into --output and
logs one MLflow run.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from molprior.chem.fingerprints import ecfp
from molprior.data.prepare import prepare_table
from molprior.data.tasks import tasks_from_table
from molprior.evaluation.fewshot import format_results, run_fewshot, summarize
from molprior.evaluation.probes import embed_smiles, logistic_probe_method, regression_probes
from molprior.files import write_csv
from molprior.models.encoder import GraphEncoder
from molprior.tracking import runs
from molprior.tracking.artifacts import resolve_model_dir
from molprior.serialization import load_encoder

ROOT = Path(__file__).resolve().parents[1]
TEST_ASSAYS = ["CHEMBL1862_Ki", "CHEMBL204_Ki", "CHEMBL2047_EC50", "CHEMBL214_Ki", "CHEMBL231_Ki", "CHEMBL262_Ki",
               "CHEMBL3979_EC50", "CHEMBL4203_Ki"]


def representations(model: str | None, smiles: list[str]) -> dict[str, dict[str, np.ndarray]]:
    pretrained, _ = load_encoder(resolve_model_dir(model, kind="encoder"))
    torch.manual_seed(0)
    random = GraphEncoder(pretrained.config)
    fingerprints = ecfp(smiles)
    return {"pretrained": embed_smiles(pretrained, smiles), "random": embed_smiles(random, smiles),
            "ecfp4": dict(zip(smiles, fingerprints.astype(np.float32)))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="pretrained model (default: the shipped prior)")
    parser.add_argument("--input", default=str(ROOT / "data" / "moleculeace"), help="MoleculeACE directory")
    parser.add_argument("--assays", help="comma-separated subset of targets for the regression probes (default all)")
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--support-sizes", default="16,32,64")
    parser.add_argument("--output", default="bench-pretrain", help="directory for the CSV results")
    parser.add_argument("-j", "--jobs", type=int, default=1)
    args = parser.parse_args(argv)

    prepared = prepare_table(args.input, n_jobs=args.jobs)
    table = prepared.table
    if args.assays:
        table = table[table["assay"].isin(args.assays.split(","))]
    smiles = table["smiles"].unique().tolist()
    with runs.tracked_run("bench-pretrain", params={"model": args.model or "shipped prior", "draws": args.draws}):
        reps = representations(args.model, smiles)
        regression = regression_probes(table, reps)
        means = regression.groupby(["probe", "representation"])["rmse"].mean().unstack()
        wide = regression.pivot_table(index="assay", columns=["probe", "representation"], values="rmse")
        wins = {probe: int((wide[(probe, "pretrained")] < wide[(probe, "random")]).sum()) for probe in ("ridge", "mlp")}
        sizes = [int(k) for k in args.support_sizes.split(",")]
        test = [a for a in TEST_ASSAYS if a in set(table["assay"])]
        methods = {f"logistic_{name}": logistic_probe_method(vectors) for name, vectors in reps.items()}
        fewshot = summarize(run_fewshot(tasks_from_table(table, test), sizes, methods, n_draws=args.draws)) \
            if test else pd.DataFrame()
        out = Path(args.output)
        write_csv(regression, out / "regression_probes.csv")
        write_csv(fewshot, out / "fewshot_probes.csv")
        runs.log_metrics({f"rmse.{probe}.{rep}": value for (probe, rep), value in means.stack().items()})
        runs.log_metrics({f"wins_over_random.{probe}": n for probe, n in wins.items()})
        runs.log_files([out / "regression_probes.csv", out / "fewshot_probes.csv"])

    n_assays = regression["assay"].nunique()
    print(f"MoleculeACE regression, mean test RMSE over {n_assays} targets (lower is better)")
    print(means.round(3).to_string())
    for probe, n in wins.items():
        print(f"{probe} probe: pretrained beats random initialisation on {n} of {n_assays} targets")
    if len(fewshot):
        print("\nFew-shot protocol, logistic probe on frozen representations")
        print(format_results(fewshot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
