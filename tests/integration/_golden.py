"""Scores of the models shipped in molprior/priors on fixed real inputs, computed on the
machine that wrote ``golden/shipped_scores.json``: another machine must agree within
:data:`TOLERANCE`.  Rebuild the file (after retraining a shipped model) with
``python tests/integration/_golden.py``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

GOLDEN = Path(__file__).resolve().parent / "golden" / "shipped_scores.json"
#: Float32 inference on another CPU or BLAS build sums in another order: agreement to 2e-5
#: (absolute, on embeddings of unit scale and 0-1 scores) is what float32 rounding allows.
TOLERANCE = 2e-5
#: Marketed drugs and one MoleculeACE ligand, as RDKit writes them canonically.
MOLECULES = ["CC(=O)Oc1ccccc1C(=O)O", "CC(=O)Nc1ccc(O)cc1", "Cn1c(=O)c2c(ncn2C)n(C)c1=O",
             "Cc1ccc(NC(=O)c2ccc(CN3CCN(C)CC3)cc2)cc1Nc1nccc(-c2cccnc2)n1",
             "C[C@]12CC[C@H]3[C@@H](CCC4=CC(=O)CC[C@@]43C)[C@@H]1CC[C@@H]2O", "O=C(O)Cc1ccccc1Nc1c(Cl)cccc1Cl"]
#: Well-known HLA class I ligands (influenza M1 58-66, HIV gag SL9, EBV, CMV pp65 epitopes).
PEPTIDES = ["GILGFVFTL", "SLYNTVATL", "NLVPMVATV", "RPHERNGFTVL", "GLCTLVAML", "KLGGALQAK", "QYDPVAALF"]
ALLELES = ["HLA-A*02:01", "HLA-B*07:02", "HLA-A*03:01"]


def shipped_scores() -> dict:
    """Mean-pooled embeddings of :data:`MOLECULES` by the shipped prior's encoder and the
    shipped MHC model's affinity scores of :data:`PEPTIDES` for :data:`ALLELES`."""
    from molprior.chem.featurize import featurize_smiles
    from molprior.models.fixed_blocks import map_fixed_blocks
    from molprior.serialization import load_encoder, load_predictor
    from molprior.tracking.artifacts import resolve_model_dir

    encoder, _ = load_encoder(resolve_model_dir(None, kind="encoder"))
    graphs = featurize_smiles(MOLECULES).graphs
    with torch.inference_mode():
        embeddings = map_fixed_blocks(lambda rows: encoder.embed(graphs.to_batch(rows)), len(MOLECULES))
    predictor = load_predictor(resolve_model_dir(None, "mhc"))
    body = predictor.body(PEPTIDES)
    return {"embeddings": embeddings.numpy().astype(np.float64).tolist(),
            "mhc_scores": {allele: predictor.scores_from_body(body, allele).tolist() for allele in ALLELES}}


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(shipped_scores(), indent=0) + "\n")
    print(f"wrote {GOLDEN}")
