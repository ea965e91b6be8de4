"""Full-data regression benchmark on MoleculeACE (the ``molprior benchmark regression`` protocol).

    python pipelines/benchmark_regression.py --output runs/regression [--input data/moleculeace]
        [--model DIR|runs:/...] [--methods svr_ecfp,rf_ecfp,gnn_finetune] [--assays A,B]
        [--epochs N] [--metatrain-epochs N] [--seed S] [-j JOBS] [--threads T]

Writes ``results.csv`` (method,assay,rmse,rmse_cliff) and the rest into the output directory,
logs one MLflow run, and prints the mean RMSE and cliff RMSE per method.  ``--threads`` sets
the torch threads of the main process (meta-training; the targets when ``-j 1``).
"""

import argparse
import sys

from molprior.cli.benchmark_regression import add_regression_arguments, run_regression
from molprior.cli.main import configure_logging

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_regression_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch threads of the main process (default: torch's)")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors; no progress bars")
    args = parser.parse_args()
    configure_logging(False, args.quiet)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    sys.exit(run_regression(args))
