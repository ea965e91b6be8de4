"""pipelines/bench_predict.py: its measurement of a process tree, and a small run without Chemprop
(real MOSES molecules from the embedded sample, a tiny adapted model; behaviour, not speed)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "pipelines" / "bench_predict.py"
RUN_FIELDS = {"tool", "molecules", "repeat", "wall_s", "molecules_per_s", "peak_rss_bytes", "peak_pss_bytes",
              "max_process_rss_bytes", "cpu_s", "other_cpu_s", "max_processes", "rows_written", "rows_scored",
              "returncode", "load_before", "command", "settings", "log"}


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_predict", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_peak_memory_is_summed_over_the_whole_process_tree(tmp_path):
    """A parent and its child each hold 150 MB at once: the tree's peak counts both, the
    largest single process only one."""
    bench = load_bench()
    child = "import time; x = b'\\1' * 150_000_000; time.sleep(1.5)"
    parent = (f"import subprocess, sys, time; p = subprocess.Popen([sys.executable, '-c', {child!r}]); "
              "x = b'\\1' * 150_000_000; p.wait()")
    result = bench.run_measured([sys.executable, "-c", parent], tmp_path / "log.txt", interval=0.05)
    assert result.returncode == 0
    assert result.max_processes == 2
    assert result.peak_tree_rss_bytes > 300_000_000
    # the kernel's per-process maximum also counts what the process held between fork and exec
    # (a copy of this test process), so it is only bounded from below here
    assert result.max_process_rss_bytes > 150_000_000
    assert 0 < result.peak_tree_pss_bytes <= result.peak_tree_rss_bytes
    assert result.wall_s > 1.4 and result.cpu_s > 0


def test_small_run_without_chemprop_writes_results(fewshot_models, tmp_path):
    _, adapted = fewshot_models
    library = ROOT / "data" / "moses" / "moses_train_50k.csv.gz"
    result = subprocess.run([sys.executable, str(SCRIPT), "--output", str(tmp_path / "out"), "--library", str(library),
                             "--molecules", "300", "--model", str(adapted), "--skip-chemprop", "--threads", "1"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert {"machine", "versions", "library", "models", "settings", "runs", "ratios_molprior_over_chemprop",
            "target"} <= set(results)
    assert results["library"]["molecules"] == 300 and results["library"]["source"] == str(library)
    assert results["ratios_molprior_over_chemprop"] == [] and results["target"]["met"] is None
    (run,) = results["runs"]
    assert set(run) == RUN_FIELDS
    assert run["tool"] == "molprior" and run["molecules"] == 300 and run["returncode"] == 0
    assert run["molecules_per_s"] > 0 and run["peak_rss_bytes"] > 0 and run["max_process_rss_bytes"] > 0
    assert run["rows_written"] == 300 and run["rows_scored"] == 300
    table = pd.read_csv(tmp_path / "out" / "results.csv")
    assert set(table.columns) == RUN_FIELDS and table["tool"].tolist() == ["molprior"]
    library_copy = pd.read_csv(tmp_path / "out" / "library_moses_train_50k_300.csv")
    assert list(library_copy.columns) == ["smiles"] and len(library_copy) == 300
    assert "molprior" in result.stdout and "results:" in result.stdout


def test_ratios_take_each_tools_best_rate_and_highest_memory():
    bench = load_bench()

    def row(tool, repeat, rate, rss, molecules=1000):
        return bench.Row(tool, molecules, repeat, molecules / rate, rate, rss, rss, rss, 1.0, 0.0, 1, molecules,
                         molecules, 0, 0.0, tool, "", "")

    rows = [row("molprior", 0, 100.0, 10), row("chemprop", 0, 50.0, 40), row("molprior", 1, 200.0, 12),
            row("chemprop", 1, 80.0, 30), row("molprior", 0, 300.0, 15, molecules=5000)]
    (pair,) = bench.ratios(rows)
    assert pair["molecules"] == 1000 and pair["repeats"] == [2, 2]
    assert pair["molecules_per_s"] == 2.5 and pair["peak_rss"] == 0.3
