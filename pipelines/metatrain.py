"""Meta-training with the project's configuration (pipelines/configs/metatrain.yaml).

    python pipelines/metatrain.py --output runs/meta [--input FILE] [--prior shipped|random|DIR] ...

Every option of ``molprior metatrain`` is accepted; this script only fills in the
configuration file.
"""

import sys
from pathlib import Path

from molprior.cli.main import main

CONFIG = Path(__file__).resolve().parent / "configs" / "metatrain.yaml"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--config" not in args:
        args = ["--config", str(CONFIG)] + args
    sys.exit(main(["metatrain", *args]))
