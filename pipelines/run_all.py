"""Run the whole molprior pipeline (pretrain -> meta-train -> benchmark -> register -> score).

    python pipelines/run_all.py [CONFIG] [--reuse STEP=RUN_ID ...] [-o OUTPUT]

The same as ``molprior pipeline run CONFIG`` (default CONFIG: pipelines/configs/demo.yaml).
"""

from __future__ import annotations

import sys

from molprior.cli.main import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        args = ["pipelines/configs/demo.yaml", *args]
    sys.exit(main(["pipeline", "run", *args]))
