"""The package builds without setuptools warnings and ships the models under molprior/priors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_wheel_builds_quietly_and_carries_the_shipped_models(tmp_path):
    source = tmp_path / "source"  # a copy: the build's own build/ folder stays out of the checkout
    shutil.copytree(ROOT / "molprior", source / "molprior", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w",
                             str(tmp_path), str(source)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    log = result.stdout + result.stderr
    assert "would be ignored" not in log and "SetuptoolsDeprecationWarning" not in log, log
    (wheel,) = tmp_path.glob("molprior-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "molprior" / "priors").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert not any("__pycache__" in n for n in names)
