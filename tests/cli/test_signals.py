"""SIGTERM unwinds a command: ``finally`` blocks run, worker pools do not hold the exit up,
the exit status is 143, and the handler is only there while the command runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest

from molprior.cli.main import main
from molprior.cli.signals import EXIT_TERMINATED

ROOT = Path(__file__).resolve().parents[2]

#: A command writing its output through atomic_path while a fork pool works on tasks that
#: would take a minute; it prints the pool's worker ids once they run.
POOL_COMMAND = textwrap.dedent("""
    import sys, time
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import active_children, get_context
    from molprior.cli.signals import exits_on_sigterm
    from molprior.files import atomic_path

    def slow(seconds):
        time.sleep(seconds)
        return seconds

    @exits_on_sigterm
    def run(output):
        with atomic_path(output) as tmp:
            tmp.write_text("half")
            with ProcessPoolExecutor(2, mp_context=get_context("fork")) as pool:
                futures = [pool.submit(slow, 60) for _ in range(4)]
                time.sleep(0.5)
                print(" ".join(str(p.pid) for p in active_children()), flush=True)
                [f.result() for f in futures]
        return 0

    sys.exit(run(sys.argv[1]))
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"  # a zombie has ended
    except FileNotFoundError:
        return False


@pytest.mark.skipif(sys.platform != "linux", reason="fork pools and /proc")
def test_sigterm_stops_the_workers_and_cleans_up(tmp_path):
    output = tmp_path / "out.txt"
    output.write_text("earlier output\n")
    process = subprocess.Popen([sys.executable, "-c", POOL_COMMAND, str(output)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        workers = [int(p) for p in process.stdout.readline().split()]
        assert len(workers) == 2 and list(tmp_path.glob(".out.txt.*.part"))
        start = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=30)  # the pool's tasks would take a minute
    finally:
        process.kill()
    assert process.returncode == EXIT_TERMINATED == 143 and time.monotonic() - start < 30
    assert err.strip() == "terminated"  # no traceback
    assert not list(tmp_path.glob("*.part")) and output.read_text() == "earlier output\n"
    deadline = time.monotonic() + 10
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in workers)


@pytest.fixture
def guard():
    """A SIGTERM handler of the test process's own (so that a SIGTERM the command does not
    handle fails the test instead of ending the test process); the previous one afterwards."""
    def reached(signum, frame):
        raise AssertionError("SIGTERM reached the test process's own handler")

    previous = signal.signal(signal.SIGTERM, reached)
    yield reached
    signal.signal(signal.SIGTERM, previous)


def test_the_handler_is_only_there_while_the_command_runs(guard, capsys):
    assert main(["data", "list"]) == 0
    assert signal.getsignal(signal.SIGTERM) is guard


def test_sigterm_during_a_command_returns_143(guard, monkeypatch, capsys):
    from molprior.cli import data

    def terminated(args):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the handler raises before this ends
        raise AssertionError("SIGTERM did not interrupt the command")

    monkeypatch.setattr(data, "run_list", terminated)
    assert main(["data", "list"]) == 143
    assert capsys.readouterr().err.strip() == "terminated"
    assert signal.getsignal(signal.SIGTERM) is guard  # the caller's handler is back


def test_sigterm_during_predict_leaves_no_part_file_and_the_earlier_output(fewshot_models, tmp_path):
    """A real ``molprior predict`` (worker pools on) on ~13,000 molecules, sent SIGTERM once its
    temporary output exists: it exits 143 after its clean-up, the earlier scores intact."""
    library = tmp_path / "library.csv"
    names = ["CHEMBL234_Ki", "CHEMBL214_Ki", "CHEMBL233_Ki", "CHEMBL244_Ki"]
    pd.concat([pd.read_csv(ROOT / "data" / "moleculeace" / f"{n}.csv")[["smiles"]] for n in names]).to_csv(
        library, index=False)
    output = tmp_path / "scores.csv"
    output.write_text("smiles,probability_active\nCCO,0.5\n")  # an earlier run's scores
    process = subprocess.Popen([sys.executable, "-m", "molprior", "predict", "--model", str(fewshot_models[1]),
                                "--input", str(library), "--output", str(output), "--jobs", "2", "--chunk-rows",
                                "5000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob(".scores.csv.*.part")):
            assert process.poll() is None, process.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "no .part file appeared"
            time.sleep(0.05)
        time.sleep(1.5)  # well into the first chunk
        assert process.poll() is None, "predict finished before it could be terminated"
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 143, err[-2000:]
    assert "terminated" in err and "Traceback" not in err
    assert not list(tmp_path.glob("*.part"))
    assert output.read_text() == "smiles,probability_active\nCCO,0.5\n"
