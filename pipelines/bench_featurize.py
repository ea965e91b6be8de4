"""Featurisation speed on MoleculeACE SMILES, against bare RDKit parsing, in one process.

    python pipelines/bench_featurize.py [--n 20000] [--repeats 3]

Prints four rates, one per line, then the ratios and the cache check:

    rdkit_parse: N mol/s        bare Chem.MolFromSmiles over the list (results discarded): the floor
    from_smiles: N mol/s        torch_geometric.utils.from_smiles
    molprior_1proc: N mol/s     molprior.chem.featurize.featurize_smiles, one process, no cache
    molprior_allcores: N mol/s  the same with one worker process per core

All four run on the same molecules: the first ``--n`` distinct canonical SMILES of the
embedded MoleculeACE data (canonical SMILES are what molprior featurises, since every
input is standardised once when read).  Each rate is the best of ``--repeats`` passes,
the passes of the four interleaved so that a busy machine slows them alike.  The cache
check featurises the molecules twice through an on-disk cache in a temporary directory
and reports how many the second run had to featurise (the target is 0).  Everything is
logged to MLflow as one run.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from rdkit import Chem, RDLogger

from molprior.chem.cache import FeatureCache
from molprior.chem.featurize import featurize_smiles
from molprior.parallel import available_cores
from molprior.chem.standardize import canonical_smiles
from molprior.data.readers import read_moleculeace

RDLogger.DisableLog("rdApp.*")
ROOT = Path(__file__).resolve().parents[1]
RATIO_TARGET = 0.85  # featurisation at least this fraction of bare RDKit parsing, per process


def load_smiles(n: int) -> list[str]:
    table = read_moleculeace(ROOT / "data" / "moleculeace").table
    unique = dict.fromkeys(canonical_smiles(s) for s in table["input"])
    unique.pop(None, None)
    return list(unique)[:n]


def rdkit_parse(smiles: list[str]) -> None:
    for s in smiles:
        Chem.MolFromSmiles(s)


def rdkit_parse_chunk(smiles: list[str]) -> int:
    rdkit_parse(smiles)
    return len(smiles)


def rdkit_parse_allcores(smiles: list[str], workers: int) -> float:
    """Bare parsing spread over ``workers`` processes: how far this machine scales at all."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    chunks = [smiles[i : i + 1000] for i in range(0, len(smiles), 1000)]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
        list(pool.map(rdkit_parse_chunk, chunks))
    return len(smiles) / (time.perf_counter() - start)


def pyg_from_smiles(smiles: list[str]) -> None:
    from torch_geometric.utils import from_smiles

    for s in smiles:
        from_smiles(s)


def best_rates(smiles: list[str], repeats: int, workers: int) -> dict[str, float]:
    candidates = {
        "rdkit_parse": lambda: rdkit_parse(smiles),
        "from_smiles": lambda: pyg_from_smiles(smiles),
        "molprior_1proc": lambda: featurize_smiles(smiles, n_jobs=1),
        "molprior_allcores": lambda: featurize_smiles(smiles, n_jobs=workers, chunk_size=1000),
    }
    best = {name: float("inf") for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return {name: len(smiles) / seconds for name, seconds in best.items()}


def cache_check(smiles: list[str]) -> tuple[int, int]:
    """(molecules featurised by the second run, molecules it took from the cache)."""
    with tempfile.TemporaryDirectory() as tmp:
        with FeatureCache(tmp) as cache:
            featurize_smiles(smiles, cache=cache)
        with FeatureCache(tmp) as cache:
            second = featurize_smiles(smiles, cache=cache)
    valid = len(second.graphs)
    return valid - second.from_cache, second.from_cache


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="molecules (default 20,000)")
    parser.add_argument("--repeats", type=int, default=3, help="passes per rate; the best counts (default 3)")
    parser.add_argument("--no-mlflow", action="store_true", help="do not log an MLflow run")
    args = parser.parse_args(argv)

    smiles = load_smiles(args.n)
    workers = available_cores()
    rates = best_rates(smiles, args.repeats, workers)
    for name, rate in rates.items():
        print(f"{name}: {rate:.0f} mol/s")
    ratio = rates["molprior_1proc"] / rates["rdkit_parse"]
    pyg_ratio = rates["from_smiles"] / rates["rdkit_parse"]
    scaling = rates["molprior_allcores"] / rates["molprior_1proc"]
    featurised_again, from_cache = cache_check(smiles)
    parse_scaling = max(rdkit_parse_allcores(smiles, workers) for _ in range(args.repeats)) / rates["rdkit_parse"]
    verdict = "met" if ratio >= RATIO_TARGET else "NOT met"
    print(f"molprior_1proc / rdkit_parse: {ratio:.2f} (target >= {RATIO_TARGET}: {verdict}; from_smiles: {pyg_ratio:.2f})")
    print(f"allcores speed-up: {scaling:.2f}x on {workers} cores (bare RDKit parsing: {parse_scaling:.2f}x)")
    print(f"cache, second run: featurised {featurised_again} of {len(smiles)} ({from_cache} from the cache)")
    if not args.no_mlflow:
        from molprior.tracking import runs

        with runs.tracked_run("bench-featurize", params={"n": len(smiles), "repeats": args.repeats,
                                                          "workers": workers}):
            runs.log_metrics({**{f"{k}_mol_per_s": v for k, v in rates.items()}, "ratio_1proc_to_parse": ratio,
                              "ratio_from_smiles_to_parse": pyg_ratio, "allcores_speedup": scaling,
                              "rdkit_parse_allcores_speedup": parse_scaling,
                              "cache_second_run_featurised": featurised_again})
    return 0


if __name__ == "__main__":
    sys.exit(main())
