"""Generative pretraining with the default configuration (pipelines/configs/pretrain.yaml).

    python pipelines/pretrain.py --output runs/prior [--corpus FILE] [--epochs N] [--resume] ...

Every option of ``molprior pretrain`` is accepted; this script only fills in the default
configuration file.
"""

import sys
from pathlib import Path

from molprior.cli.main import main

CONFIG = Path(__file__).resolve().parent / "configs" / "pretrain.yaml"

if __name__ == "__main__":
    args = sys.argv[1:]
    if "--config" not in args:
        args = ["--config", str(CONFIG)] + args
    sys.exit(main(["pretrain", *args]))
