"""Library scoring: ``molprior predict`` against Chemprop v2's ``chemprop predict`` on the same molecules and CPU.

    python pipelines/bench_predict.py --output bench-predict            # 1,000,000 MOSES molecules
    python pipelines/bench_predict.py --output DIR --molecules 2000 --skip-chemprop
    python pipelines/bench_predict.py --output DIR --chemprop-molecules 200000   # chemprop on the first 200k only

The library is the first ``--molecules`` SMILES of the MOSES training split (1.58M real,
drug-like molecules from ZINC, read out of the ``molsets==0.3.1`` wheel through
:mod:`molprior.data.catalog`), or of ``--library FILE``; it is written once as a plain
``smiles`` CSV under the output directory and reused.

Models, unless given: the shipped few-shot model (``molprior/priors/fewshot``, the default
start of ``molprior adapt``), adapted with ``molprior adapt`` to a support of 64 molecules (32
above and 32 below the median) of the MoleculeACE assay ``--assay``; and a Chemprop model trained with ``chemprop train`` (a few epochs, its
default architecture) on the same support molecules and labels.  ``--model`` takes an
adapted molprior model instead; Chemprop then trains on that model's support.

Chemprop lives in its own virtual environment (``--chemprop-venv``, created on first use
with the CPU wheel ``torch==2.13.0`` and the latest ``chemprop`` 2.x) or ``--chemprop-python``;
it is never a molprior dependency.  ``--skip-chemprop`` leaves it out.

Each prediction command runs on its own, one after the other, never two at once, with the
same thread settings (``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` = ``--threads``, default all
cores).  Measured per run: wall-clock seconds of the whole command (interpreter start-up and
model loading included), molecules/s, the peak resident memory of the whole process tree
(the sum of RSS over the command and all its descendants, polled every 0.2 s; the same sum
of PSS beside it, every 2 s, which counts pages the processes share once), the kernel's maximum RSS of
any single process of the tree (``wait4``), the tree's CPU seconds, and the CPU seconds the
rest of the machine was busy meanwhile (other load, which slows a run).
Both tools run with their defaults (molprior: one worker process per core; Chemprop: batch
size 64 and ``--num-workers 0``).  With ``--repeats N`` every command runs N times, the tools
interleaved, so that other load on the machine slows both alike; the ratios then take each
tool's best molecules/s and highest peak RSS.  Printed as a table with the ratios molprior/chemprop on the
same molecules, and written to ``results.json`` and ``results.csv`` in ``--output``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from molprior.files import file_hash, write_csv, write_text

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
DEFAULT_CHEMPROP_VENV = Path.home() / ".cache" / "molprior" / "chemprop-venv"
TORCH_PIN = "torch==2.13.0"  # the CPU wheel; any other version pulls the CUDA build
CHEMPROP_REQUIREMENT = "chemprop>=2,<3"
RSS_TARGET_BYTES = 2_000_000_000  # the project's target: molprior's peak RSS under 2 GB on 1M SMILES
POLL_SECONDS = 0.2
PSS_EVERY = 10  # PSS (smaps_rollup) costs ~40 ms of CPU per read of a 1 GB process: read it every 10th poll
SUPPORT_SIZE = 64
SPEED_TARGET = 2.0  # molprior's molecules/s over Chemprop's, at most MEMORY_TARGET of its peak RSS
MEMORY_TARGET = 0.5
CHEMPROP_EPOCHS = 5
CHEMPROP_BATCH_SIZE = 64  # chemprop predict's default, passed explicitly so the table says what ran


# --------------------------------------------------------------------------------------
# measuring one command


@dataclass
class Measurement:
    wall_s: float
    returncode: int
    peak_tree_rss_bytes: int  # max over polls of the summed RSS of the process and its descendants
    peak_tree_pss_bytes: int  # the same with PSS (pages shared between the processes counted once), every 10th poll
    max_process_rss_bytes: int  # kernel ru_maxrss of the largest single process of the tree
    cpu_s: float  # user + system seconds of the tree (waited-for descendants included)
    other_cpu_s: float  # busy CPU seconds of the whole machine during the run, less the tree's own
    max_processes: int
    polls: int


def _tree_memory(root: psutil.Process, with_pss: bool) -> tuple[int, int, int]:
    """Summed RSS (and, ``with_pss``, PSS) of ``root`` and its descendants, and how many processes there are."""
    try:
        processes = [root] + root.children(recursive=True)
    except psutil.Error:
        return 0, 0, 0
    rss = pss = 0
    for process in processes:
        try:
            if with_pss:
                full = process.memory_full_info()  # /proc/PID/smaps_rollup
                rss, pss = rss + full.rss, pss + full.pss
            else:
                rss += process.memory_info().rss  # /proc/PID/statm: cheap
        except psutil.Error:  # exited between the listing and the read, or not ours to read
            pass
    return rss, pss, len(processes)


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return sum(times) - times.idle - getattr(times, "iowait", 0.0) - getattr(times, "guest", 0.0) \
        - getattr(times, "guest_nice", 0.0)


def run_measured(command: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None,
                 interval: float = POLL_SECONDS) -> Measurement:
    """Run ``command`` to its end (stdout and stderr to ``log``) and measure it."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        busy = _busy_seconds()
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd)
        root = psutil.Process(proc.pid)
        peak_rss = peak_pss = most = polls = 0
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            rss, pss, count = _tree_memory(root, with_pss=polls % PSS_EVERY == 0)
            peak_rss, peak_pss, most, polls = max(peak_rss, rss), max(peak_pss, pss), max(most, count), polls + 1
            time.sleep(interval)
        wall = time.perf_counter() - start
        busy = _busy_seconds() - busy
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
    cpu = usage.ru_utime + usage.ru_stime
    return Measurement(wall, proc.returncode, peak_rss, peak_pss, usage.ru_maxrss * 1024, cpu,
                       max(0.0, busy - cpu), most, polls)


def run_checked(command: list[str], log: Path, what: str, **options) -> None:
    """Run a preparation step; on failure show the end of its log and stop."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        result = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT, **options)
    if result.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise SystemExit(f"{what} failed (exit {result.returncode}); end of {log}:\n" + "\n".join(tail))


# --------------------------------------------------------------------------------------
# the library


def smiles_column(columns) -> str:
    for name in columns:
        if str(name).strip().lower() == "smiles":
            return name
    raise SystemExit(f"the library has no 'smiles' column (columns: {list(columns)})")


def build_library(output: Path, molecules: int, source: Path | None = None) -> tuple[Path, dict]:
    """The first ``molecules`` SMILES of ``source`` (default: the MOSES training split) as a
    one-column ``smiles`` CSV under ``output``, reused when already there."""
    if source is None:
        from molprior.data import catalog

        source = catalog.fetch("moses")  # pip download --no-deps molsets==0.3.1, SHA-256 checked
        origin = catalog.get("moses").source.location
        tag = "moses"
    else:
        origin = str(source)
        tag = source.name.split(".")[0]
    path = output / f"library_{tag}_{molecules}.csv"
    if not path.exists():
        header = pd.read_csv(source, nrows=0)
        column = smiles_column(header.columns)
        smiles = pd.read_csv(source, usecols=[column], nrows=molecules, dtype=str)[column]
        if len(smiles) < molecules:
            print(f"note: {source} holds {len(smiles)} molecules, fewer than the {molecules} asked for: using all")
            path = output / f"library_{tag}_{len(smiles)}.csv"
        write_csv(smiles.rename("smiles").to_frame(), path)
    rows = count_rows(path)
    return path, {"path": str(path), "source": origin, "molecules": rows, "sha256": file_hash(path)}


def first_rows(library: Path, n: int) -> Path:
    """The first ``n`` molecules of ``library`` as a file of their own (the Chemprop subset)."""
    path = library.with_name(f"{library.stem}_first{n}.csv")
    if not path.exists():
        with open(library) as source:
            lines = [next(source) for _ in range(n + 1)]
        write_text("".join(lines), path)
    return path


def count_rows(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b"")) - 1


# --------------------------------------------------------------------------------------
# the models


def support_table(assay: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` molecules of a MoleculeACE assay, half above and half below its median, labelled 0/1
    in a column named after the assay (the name ``molprior adapt`` gives the adapted model)."""
    frame = pd.read_csv(ROOT / "data" / "moleculeace" / f"{assay}.csv")
    frame = frame.drop_duplicates("smiles")
    active = (frame["y"] > frame["y"].median()).astype(int)
    rng = np.random.default_rng(seed)
    picked = np.concatenate([rng.choice(np.flatnonzero(active == label), n // 2 if label else n - n // 2, replace=False)
                             for label in (1, 0)])
    picked.sort()
    return pd.DataFrame({"smiles": frame["smiles"].to_numpy()[picked], assay: active.to_numpy()[picked]})


def tool_env(output: Path, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env[name] = str(threads)
    env.setdefault("MLFLOW_TRACKING_URI", f"sqlite:///{(output / 'mlflow.db').resolve()}")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def build_molprior_model(output: Path, assay: str, seed: int, env: dict[str, str]) -> Path:
    """The shipped few-shot model adapted to 64 molecules of ``assay`` (what ``molprior adapt``
    starts from by default); reused when already built."""
    base = output / "molprior-model"
    adapted = base / "adapted"
    if (adapted / "model.json").exists():
        print(f"molprior model: reusing {adapted}")
        return adapted
    base.mkdir(parents=True, exist_ok=True)
    support = base / "support.csv"
    write_csv(support_table(assay, SUPPORT_SIZE, seed), support)
    print(f"molprior model: adapting the shipped model to {SUPPORT_SIZE} molecules of {assay} ...", flush=True)
    run_checked([str(BIN / "molprior"), "adapt", "--support", str(support), "--output", str(adapted),
                 "--seed", str(seed)], base / "adapt.log", "molprior adapt", env=env, cwd=output)
    return adapted


def ensure_chemprop(python: str | None, venv: Path) -> Path:
    """The ``chemprop`` executable: beside ``python`` when given, else in ``venv`` (created on first use)."""
    if python:
        executable = Path(python).parent / "chemprop"
        if not executable.exists():
            raise SystemExit(f"no chemprop executable beside {python}")
        return executable
    executable = venv / "bin" / "chemprop"
    marker = venv / ".molprior-chemprop-ok"
    if marker.exists() and executable.exists():
        return executable
    print(f"chemprop: installing {TORCH_PIN} and {CHEMPROP_REQUIREMENT} into {venv} ...", flush=True)
    log = venv.parent / f"{venv.name}-install.log"
    if not (venv / "bin" / "python").exists():
        run_checked([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], log, "python -m venv")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    run_checked(pip + [TORCH_PIN], log, f"pip install {TORCH_PIN}")
    run_checked(pip + [CHEMPROP_REQUIREMENT], log, f"pip install {CHEMPROP_REQUIREMENT}")
    run_checked([str(executable), "--help"], log, "chemprop --help")
    write_text("ok\n", marker)
    return executable


def chemprop_versions(executable: Path) -> dict[str, str]:
    result = subprocess.run([str(executable.parent / "python"), "-c",
                             "import chemprop, torch, lightning; print(chemprop.__version__, torch.__version__, "
                             "lightning.__version__)"], capture_output=True, text=True)
    parts = result.stdout.split()
    return dict(zip(["chemprop", "torch", "lightning"], parts)) if len(parts) == 3 else {}


def build_chemprop_model(output: Path, executable: Path, molprior_model: Path, env: dict[str, str], seed: int) -> Path:
    """A Chemprop model trained on the molprior model's support molecules; reused when the support is unchanged."""
    support = pd.read_csv(molprior_model / "support.csv")
    base = output / "chemprop-model"
    train = base / "train.csv"
    if support["label"].notna().all() and support["label"].isin([0, 1]).all():
        task, table = "classification", pd.DataFrame({"smiles": support["smiles"], "active": support["label"].astype(int)})
    else:
        task, table = "regression", pd.DataFrame({"smiles": support["smiles"], "active": support["value"]})
    digest = hashlib.sha256(table.to_csv(index=False).encode()).hexdigest()
    stamp = base / "source.json"
    found = sorted(base.glob("model/**/best*.pt"))
    if found and stamp.exists() and json.loads(stamp.read_text()).get("support_sha256") == digest:
        print(f"chemprop model: reusing {found[0]}")
        return found[0]
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    write_csv(table, train)
    print(f"chemprop model: training on the {len(table)} support molecules ({task}, {CHEMPROP_EPOCHS} epochs) ...",
          flush=True)
    run_checked([str(executable), "train", "--data-path", str(train), "--smiles-columns", "smiles", "--target-columns",
                 "active", "--task-type", task, "--epochs", str(CHEMPROP_EPOCHS), "--num-workers", "0",
                 "--accelerator", "cpu", "--data-seed", str(seed), "--pytorch-seed", str(seed),
                 "--output-dir", str(base / "model")], base / "train.log", "chemprop train", env=env, cwd=base)
    found = sorted(base.glob("model/**/best*.pt"))
    if not found:
        raise SystemExit(f"chemprop train wrote no best*.pt under {base / 'model'}")
    write_text(json.dumps({"support_sha256": digest, "task": task, "epochs": CHEMPROP_EPOCHS}) + "\n", stamp)
    return found[0]


# --------------------------------------------------------------------------------------
# the runs


@dataclass
class Row:
    tool: str
    molecules: int
    repeat: int
    wall_s: float
    molecules_per_s: float
    peak_rss_bytes: int
    peak_pss_bytes: int
    max_process_rss_bytes: int
    cpu_s: float
    other_cpu_s: float
    max_processes: int
    rows_written: int
    rows_scored: int
    returncode: int
    load_before: float
    command: str
    settings: str
    log: str


def scored_rows(path: Path, column: str) -> tuple[int, int]:
    """Rows in a prediction file and rows with a prediction in ``column``."""
    if not path.exists():
        return 0, 0
    written = scored = 0
    for chunk in pd.read_csv(path, usecols=[column], chunksize=200_000):
        written += len(chunk)
        scored += int(chunk[column].notna().sum())
    return written, scored


def measure(tool: str, command: list[str], molecules: int, predictions: Path, score_column: str, settings: str,
            output: Path, env: dict[str, str], repeat: int = 0) -> Row:
    name = f"{tool}_{molecules}_r{repeat}"
    log = output / "logs" / f"{name}.log"
    predictions.unlink(missing_ok=True)
    cache = output / "run-cache" / name  # an empty feature cache per run: every run starts cold
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    load = os.getloadavg()[0]
    print(f"[{datetime.now():%H:%M:%S}] {tool}: {molecules} molecules, repeat {repeat} (load average {load:.2f}) ...",
          flush=True)
    result = run_measured(command, log, env={**env, "MOLPRIOR_CACHE_DIR": str(cache)}, cwd=output)
    shutil.rmtree(cache, ignore_errors=True)
    written, scored = scored_rows(predictions, score_column) if result.returncode == 0 else (0, 0)
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        print(f"  FAILED (exit {result.returncode}); end of {log}:\n{tail}")
    rate = molecules / result.wall_s if result.returncode == 0 else float("nan")
    row = Row(tool, molecules, repeat, round(result.wall_s, 2), round(rate, 1), result.peak_tree_rss_bytes,
              result.peak_tree_pss_bytes, result.max_process_rss_bytes, round(result.cpu_s, 1),
              round(result.other_cpu_s, 1), result.max_processes, written, scored,
              result.returncode, round(load, 2), " ".join(command), settings, str(log.relative_to(output)))
    print(f"  {row.wall_s:.1f} s, {row.molecules_per_s:.0f} molecules/s, peak RSS {gb(row.peak_rss_bytes)} GB "
          f"(PSS {gb(row.peak_pss_bytes)} GB, largest process {gb(row.max_process_rss_bytes)} GB), "
          f"{row.rows_scored}/{row.rows_written} rows scored; other load {row.other_cpu_s:.0f} CPU s", flush=True)
    return row


def gb(value: float) -> str:
    return f"{value / 1e9:.2f}"


def machine() -> dict:
    info = {"platform": platform.platform(), "python": platform.python_version(), "cpus": os.cpu_count(),
            "memory_bytes": psutil.virtual_memory().total, "load_average_start": os.getloadavg()}
    try:
        models = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")]
        info["cpu"] = models[0] if models else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    return info


def molprior_version() -> dict:
    import molprior
    import torch

    def git(*args):
        result = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
        return result.stdout.strip() if result.returncode == 0 else None

    changed = git("status", "--porcelain", "--", "molprior") or ""
    return {"molprior": molprior.__version__, "torch": torch.__version__, "git_commit": git("rev-parse", "HEAD"),
            "git_head": git("log", "-1", "--format=%s"),
            "molprior_sources_uncommitted": [line[3:] for line in changed.splitlines()]}


def ratios(rows: list[Row]) -> list[dict]:
    """molprior/chemprop on the same molecules, for every size both tools ran on: the best
    molecules/s of each tool's repeats (other load only ever slows a run) and the highest
    peak RSS of each (memory does not improve with luck)."""
    out = []
    good = [r for r in rows if r.returncode == 0]
    sizes = sorted({r.molecules for r in good if r.tool == "molprior"} & {r.molecules for r in good if r.tool == "chemprop"})
    for n in sizes:
        mine = [r for r in good if r.tool == "molprior" and r.molecules == n]
        theirs = [r for r in good if r.tool == "chemprop" and r.molecules == n]
        fast_mine, fast_theirs = max(mine, key=lambda r: r.molecules_per_s), max(theirs, key=lambda r: r.molecules_per_s)
        out.append({"molecules": n, "repeats": [len(mine), len(theirs)],
                    "molprior_molecules_per_s": fast_mine.molecules_per_s,
                    "chemprop_molecules_per_s": fast_theirs.molecules_per_s,
                    "molecules_per_s": round(fast_mine.molecules_per_s / fast_theirs.molecules_per_s, 3),
                    "peak_rss": round(max(r.peak_rss_bytes for r in mine) / max(r.peak_rss_bytes for r in theirs), 3),
                    "other_cpu_s_of_best_runs": [fast_mine.other_cpu_s, fast_theirs.other_cpu_s]})
    return out


def print_table(rows: list[Row], pairs: list[dict]) -> None:
    header = f"{'tool':<9} {'molecules':>10} {'rep':>3} {'wall s':>9} {'mol/s':>8} {'peak RSS GB':>12} {'peak PSS GB':>12} " \
             f"{'max proc GB':>12} {'CPU s':>8} {'other CPU s':>12} {'scored':>9}"
    print("\n" + header + "\n" + "-" * len(header))
    for r in rows:
        print(f"{r.tool:<9} {r.molecules:>10} {r.repeat:>3} {r.wall_s:>9.1f} {r.molecules_per_s:>8.0f} {gb(r.peak_rss_bytes):>12} "
              f"{gb(r.peak_pss_bytes):>12} {gb(r.max_process_rss_bytes):>12} {r.cpu_s:>8.1f} {r.other_cpu_s:>12.1f} "
              f"{r.rows_scored:>9}")
    for p in pairs:
        met = p["molecules_per_s"] >= SPEED_TARGET and p["peak_rss"] <= MEMORY_TARGET
        print(f"molprior/chemprop on {p['molecules']} molecules: molecules/s x{p['molecules_per_s']:.2f} (best of "
              f"{p['repeats'][0]} and {p['repeats'][1]} runs), peak RSS x{p['peak_rss']:.2f} (highest of each); "
              f"target (x{SPEED_TARGET:g} or more at x{MEMORY_TARGET:g} or less): {'met' if met else 'NOT met'}")


# --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", "-o", required=True, type=Path, help="directory for the results, library and models")
    parser.add_argument("--molecules", type=int, default=1_000_000, help="library size (default 1,000,000)")
    parser.add_argument("--library", type=Path, help="CSV (or .csv.gz) with a smiles column; default: MOSES train")
    parser.add_argument("--model", help="an adapted molprior model (directory); default: built here")
    parser.add_argument("--assay", default="CHEMBL2047_EC50", help="MoleculeACE assay the models are fitted to")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="OMP/MKL threads for both tools (default: all cores)")
    parser.add_argument("--jobs", type=int, help="molprior predict --jobs (default: molprior's, all cores)")
    parser.add_argument("--skip-chemprop", action="store_true")
    parser.add_argument("--chemprop-python", help="python of an existing environment with chemprop 2.x")
    parser.add_argument("--chemprop-venv", type=Path, default=DEFAULT_CHEMPROP_VENV,
                        help=f"where to install chemprop when needed (default {DEFAULT_CHEMPROP_VENV})")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run every command this many times, the tools interleaved, so that other load on "
                             "the machine slows both alike; the ratios take each tool's best")
    parser.add_argument("--chemprop-molecules", type=int,
                        help="run chemprop on the first N library molecules only (molprior then runs on those N "
                             "and on the whole library)")
    args = parser.parse_args(argv)
    output = args.output.resolve()
    output.mkdir(parents=True, exist_ok=True)
    env = tool_env(output, args.threads)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    code_at_start = molprior_version()  # each molprior command loads the working tree as it is when it starts
    machine_at_start = machine()

    library, library_info = build_library(output, args.molecules, args.library.resolve() if args.library else None)
    total = library_info["molecules"]
    print(f"library: {total} molecules in {library} (from {library_info['source']})")
    model = Path(args.model).resolve() if args.model else build_molprior_model(output, args.assay, args.seed, env)
    description = json.loads((model / "model.json").read_text())
    if not description.get("adapted"):
        raise SystemExit(f"{model} is not an adapted model (run molprior adapt first)")

    chemprop = chemprop_model = None
    if not args.skip_chemprop:
        chemprop = ensure_chemprop(args.chemprop_python, args.chemprop_venv)
        chemprop_model = build_chemprop_model(output, chemprop, model, env, args.seed)
    chemprop_n = min(args.chemprop_molecules or total, total)
    molprior_sizes = sorted({total} | ({chemprop_n} if chemprop else set()))

    def subset(n: int) -> Path:
        return library if n == total else first_rows(library, n)

    score = "value" if description.get("learner", {}).get("task_type") == "regression" else "probability_active"
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    rows: list[Row] = []
    (output / "predictions").mkdir(exist_ok=True)
    for repeat in range(args.repeats):  # one command at a time, never two at once
        for n in molprior_sizes:
            predictions = output / "predictions" / f"molprior_{n}.csv"
            command = [str(BIN / "molprior"), "predict", "--model", str(model), "--input", str(subset(n)),
                       "--output", str(predictions), *jobs]
            rows.append(measure("molprior", command, n, predictions, score,
                                f"threads={args.threads}; jobs={args.jobs or 'default (all cores)'}", output, env, repeat))
        if chemprop:
            predictions = output / "predictions" / f"chemprop_{chemprop_n}.csv"
            command = [str(chemprop), "predict", "--test-path", str(subset(chemprop_n)), "--smiles-columns", "smiles",
                       "--model-paths", str(chemprop_model), "--preds-path", str(predictions), "--batch-size",
                       str(CHEMPROP_BATCH_SIZE), "--num-workers", "0", "--accelerator", "cpu"]
            rows.append(measure("chemprop", command, chemprop_n, predictions, "active",
                                f"threads={args.threads}; batch_size={CHEMPROP_BATCH_SIZE} (default); num_workers=0",
                                output, env, repeat))

    pairs = ratios(rows)
    big = [r for r in rows if r.tool == "molprior" and r.molecules >= 1_000_000 and r.returncode == 0]
    results = {
        "started": started, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {**machine_at_start, "load_average_end": os.getloadavg()},
        "versions": {**code_at_start, "at_end": molprior_version(),
                     **({"chemprop": chemprop_versions(chemprop)} if chemprop else {})},
        "library": library_info,
        "models": {"molprior": str(model), "molprior_parent": description.get("metadata", {}).get("parent_model"),
                   "assay": description.get("metadata", {}).get("assay"),
                   "n_support": description.get("metadata", {}).get("n_support"),
                   "chemprop": str(chemprop_model) if chemprop_model else None,
                   "chemprop_epochs": CHEMPROP_EPOCHS if chemprop_model else None},
        "settings": {"threads": args.threads, "repeats": args.repeats, "molprior_jobs": args.jobs,
                     "chemprop_batch_size": CHEMPROP_BATCH_SIZE, "chemprop_num_workers": 0,
                     "poll_seconds": POLL_SECONDS, "chemprop_molecules": chemprop_n if chemprop else None,
                     "peak_rss": "max over 0.2 s polls of the summed RSS of the command and its descendants",
                     "peak_pss": "the same with PSS (pages shared between the tree's processes counted once), every 2 s",
                     "other_cpu_s": "busy CPU seconds of the machine during the run less the tree's own: other load",
                     "max_process_rss": "kernel ru_maxrss (wait4) of the largest single process of the tree"},
        "runs": [asdict(r) for r in rows],
        "ratios_molprior_over_chemprop": pairs,
        "target": {"molprior_peak_rss_below_bytes": RSS_TARGET_BYTES, "on_molecules": 1_000_000,
                   "met": (all(r.peak_rss_bytes < RSS_TARGET_BYTES for r in big) if big else None)},
    }
    write_text(json.dumps(results, indent=2) + "\n", output / "results.json")
    write_csv(pd.DataFrame([asdict(r) for r in rows]), output / "results.csv")
    print_table(rows, pairs)
    if big:
        print(f"target (molprior peak RSS < 2 GB on 1M): {'met' if results['target']['met'] else 'NOT met'}")
    print(f"results: {output / 'results.json'}")
    return 0 if all(r.returncode == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
