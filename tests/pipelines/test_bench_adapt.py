"""pipelines/bench_adapt.py reports adaptation and baseline timings and logs them (behaviour, not speed)."""

import re
import subprocess
import sys
from pathlib import Path

import mlflow

ROOT = Path(__file__).resolve().parents[2]


def test_bench_adapt_reports_and_logs():
    result = subprocess.run([sys.executable, str(ROOT / "pipelines" / "bench_adapt.py"), "--support", "16",
                             "--repeats", "2", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in ("featurise", "adapt", "total"):
        assert re.search(rf"^{name}: \d+\.\d+ s \(median of 2\)$", result.stdout, re.M), result.stdout
    assert re.search(r"^ratio total / rf_ecfp: \d+\.\d+$", result.stdout, re.M)
    run = mlflow.search_runs(search_all_experiments=True, filter_string="tags.mlflow.runName = 'bench-adapt'")
    assert len(run) == 1 and run["metrics.adapt_seconds"].iloc[0] > 0
