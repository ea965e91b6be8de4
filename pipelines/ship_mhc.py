"""Ship a trained MHC class I model as molprior/priors/mhc_i (the model ``molprior peptides``
uses when no --model is given).

    molprior peptides train --config mhc -o out/mhc --no-register
    python pipelines/ship_mhc.py out/mhc/model          # then write molprior/priors/mhc_i/MODEL_CARD.md

Paths in the model's metadata are made relative to the repository, the machine-local MLflow
run id is kept as provenance, and the directory is re-saved with a fresh checksums manifest.
"""

import argparse
import shutil
import sys
from pathlib import Path

from molprior.serialization import load_predictor, save_predictor
from molprior.tracking.artifacts import SHIPPED_MHC

REPO = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", help="a trained MHC model directory (out/mhc/model)")
    args = parser.parse_args()
    predictor = load_predictor(args.model)
    encoder = predictor.metadata.get("encoder", {})
    if "path" in encoder:
        encoder["path"] = str(Path(encoder["path"]).resolve().relative_to(REPO))
    card = SHIPPED_MHC / "MODEL_CARD.md"
    kept = card.read_text() if card.exists() else None
    if SHIPPED_MHC.exists():
        shutil.rmtree(SHIPPED_MHC)
    if kept is not None:  # the card is written by hand; keep it (the manifest covers it)
        SHIPPED_MHC.mkdir(parents=True)
        card.write_text(kept)
    save_predictor(predictor, SHIPPED_MHC)
    print(f"shipped {len(predictor.supported)} alleles -> {SHIPPED_MHC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
