"""pipelines/bench_featurize.py prints its four rates in the agreed form (behaviour, not speed)."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_prints_four_rates_and_the_cache_check():
    result = subprocess.run([sys.executable, str(ROOT / "pipelines" / "bench_featurize.py"), "--n", "200",
                             "--repeats", "1", "--no-mlflow"], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    names = ["rdkit_parse", "from_smiles", "molprior_1proc", "molprior_allcores"]
    for line, name in zip(lines[:4], names):
        assert re.fullmatch(rf"{name}: \d+ mol/s", line), line
    assert "cache, second run: featurised 0 of 200" in result.stdout
