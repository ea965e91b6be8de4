"""Add the skeleton prefilter (``seen_skeletons.npy``) to a few-shot model that records its
meta-training molecules only as InChIKey hashes (``seen_molecules.npy``): models meta-trained
before the prefilter existed, the shipped one among them.

    python pipelines/record_seen_skeletons.py molprior/priors/fewshot --input dataset:fsmol -j 2

The molecules are those of the model's training and validation assays (``train_assays`` and
``val_assays`` in its ``model.json``), read from ``--input`` and standardised as meta-training
did.  Only the molecules whose key the model records are kept, and the script stops unless
their keys are exactly the model's record, so the prefilter describes the same molecules.  The
model directory's checksums manifest is rewritten.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from molprior.data import leakage
from molprior.data.prepare import prepare_table
from molprior.data.tasks import tasks_from_table
from molprior.files import write_manifest
from molprior.meta.batches import MoleculeBank
from molprior.serialization import read_json_object


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", type=Path, help="a few-shot model directory with seen_molecules.npy")
    parser.add_argument("--input", required=True, help="the input the model was meta-trained on (dataset:fsmol)")
    parser.add_argument("-j", "--jobs", type=int, default=1)
    args = parser.parse_args(argv)
    seen = leakage.load_seen(args.model)
    if seen is None:
        raise SystemExit(f"{args.model} records no meta-training molecules ({leakage.SEEN_FILE})")
    metadata = read_json_object(args.model / "model.json").get("metadata", {})
    assays = list(dict.fromkeys(metadata.get("train_assays", []) + metadata.get("val_assays", [])))
    if not assays:
        raise SystemExit(f"{args.model}/model.json names no training or validation assays")
    table = prepare_table(args.input, n_jobs=args.jobs).table
    tasks = tasks_from_table(table[table["assay"].isin(assays)], assays)
    molecules = list(dict.fromkeys(s for task in tasks for s in task.inputs))
    keys = leakage.molecule_keys(molecules, args.jobs)
    hashes = {s: leakage.key_hash(k) for s, k in keys.items()}
    recorded = set(seen.tolist())
    kept = [s for s in molecules if hashes.get(s) in recorded]
    found = leakage.seen_keys(keys[s] for s in kept)
    if not np.array_equal(found, seen):
        raise SystemExit(f"the {len(assays)} assays' molecules give {len(found)} of the model's {len(seen)} keys: "
                         "not the molecules it records; is --input the data it was trained on?")
    bank, errors = MoleculeBank.build(kept, n_jobs=args.jobs)
    if errors:
        raise SystemExit(f"{len(errors)} of the recorded molecules do not featurise, e.g. {next(iter(errors.items()))}")
    skeletons = leakage.seen_skeletons(bank.graphs)
    leakage.save_seen(seen, args.model, skeletons)
    write_manifest(args.model)
    print(f"{args.model}: {len(skeletons)} skeleton hashes of the {len(kept)} molecules behind its {len(seen)} keys")
    return 0


if __name__ == "__main__":
    sys.exit(main())
