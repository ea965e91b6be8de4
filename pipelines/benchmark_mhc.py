"""MHC class I benchmark: held-out alleles few-shot, cross-validation, scoring throughput.

    python pipelines/benchmark_mhc.py [--config pipelines/configs/mhc_benchmark.yaml]
        [--output out/benchmark-mhc] [--draws N] [--methods molprior,rf_onehot,...]
        [--prior peptide|default|DIR] [-j JOBS] [--threads T]

The same as ``molprior benchmark mhc`` (see its ``--help``): meta-trains the allele model
without the held-out alleles, runs the protocol of ../shared/GUIDE.md section 4 on them next to
per-allele random forests (one-hot, BLOSUM62), the nearest well-measured allele's model, the
prior without meta-learning and a network trained from scratch; 5-fold cross-validation on
held-out alleles with >= 1,000 measurements; and scoring throughput against a 6-allele
genotype.  Writes mhc_few_shot.csv (mean over draws, then alleles), mhc_few_shot_draws.csv,
mhc_cross_validation.csv and mhc_benchmark.json, logs one MLflow run, and prints the tables
and the targets.
"""

import sys

from molprior.cli.main import main

VERBOSITY = ("-q", "--quiet", "-v", "--verbose")  # options of the molprior command itself

if __name__ == "__main__":
    given = sys.argv[1:]
    sys.exit(main([*(a for a in given if a in VERBOSITY), "benchmark", "mhc", *(a for a in given if a not in VERBOSITY)]))
