"""MHC class I predictors (:class:`~molprior.meta.mhc_predictor.MHCPredictor`).

Directory layout (all JSON and safetensors; ``checksums.json`` is checked before loading)::

    mhc.json               format, configs, alleles (measurements, how each head was made), metadata
    alleles.safetensors    body, meta-learned initial head, one head per allele, inner learning
                           rates, reference quantiles (alleles x lengths x quantiles)
    adapters.safetensors   the body adapters of the alleles that have one (absent when none do)
    encoder/               the graph encoder (the peptide prior)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from molprior.files import atomic_path, verify_manifest, write_manifest, write_text
from molprior.meta.allele_learner import allele_learner, allele_model_config
from molprior.meta.maml import MAMLConfig
from molprior.meta.mhc_predictor import MHCPredictor
from molprior.models.allele_model import AlleleModelConfig
from molprior.models.peptide_encoder import PeptideEncoder
from molprior.serialization.formats import ModelFormatError, load_weights, load_weights_into, read_json_object
from molprior.serialization.generator import load_encoder, save_encoder

MHC_FORMAT = "molprior-mhc/2"  # 2: per-allele body adapters (an older reader would ignore them)
READABLE_FORMATS = ("molprior-mhc/1", MHC_FORMAT)
ADAPTERS_FILE = "adapters.safetensors"


def save_predictor(predictor: MHCPredictor, directory: str | Path) -> Path:
    """Write the predictor into ``directory`` (replaced file by file, manifest last)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v.detach().contiguous() for k, v in predictor.learner.state_dict().items()}
    order = predictor.supported
    adapters = {}
    for i, allele in enumerate(order):
        tensors.update({f"heads.{i}.{k}": v.detach().contiguous() for k, v in predictor.head(allele).items()})
        adapters.update({f"bodies.{i}.{k}": v.detach().contiguous()
                         for k, v in predictor.adapters.get(allele, {}).items()})
        if allele in predictor.reference:
            tensors[f"reference.{i}"] = torch.from_numpy(np.ascontiguousarray(predictor.reference[allele], np.float32))
    with atomic_path(directory / "alleles.safetensors") as tmp:
        save_file(tensors, str(tmp))
    if adapters:  # a file of their own: the model's files stay small
        with atomic_path(directory / ADAPTERS_FILE) as tmp:
            save_file(adapters, str(tmp))
    else:
        (directory / ADAPTERS_FILE).unlink(missing_ok=True)
    encoder_dir = directory / "encoder"
    if encoder_dir.exists():
        shutil.rmtree(encoder_dir)
    save_encoder(predictor.peptide_encoder.encoder, encoder_dir, predictor.metadata.get("encoder", {}))
    description = {
        "format": MHC_FORMAT,
        "input_dim": predictor.learner.model.input_dim,
        "model": allele_model_config(predictor.learner).to_dict(),
        "maml": predictor.learner.maml.config.to_dict(),
        "peptide_encoder": {"terminal_slots": predictor.peptide_encoder.terminal_slots,
                            "lengths": list(predictor.peptide_encoder.lengths)},
        "alleles": {allele: {"index": i, **predictor.alleles.get(allele, {})} for i, allele in enumerate(order)},
        "metadata": predictor.metadata,
    }
    write_text(json.dumps(description, indent=2) + "\n", directory / "mhc.json")
    write_manifest(directory)
    return directory


def load_predictor(directory: str | Path) -> MHCPredictor:
    """The predictor saved in ``directory`` (checksums verified first)."""
    directory = Path(directory)
    path = directory / "mhc.json"
    if not path.exists():
        raise ModelFormatError(f"{directory} holds no mhc.json: not a molprior MHC model directory")
    verify_manifest(directory, covers=("mhc.json", "alleles.safetensors", ADAPTERS_FILE))
    description = read_json_object(path)
    if description.get("format") not in READABLE_FORMATS:
        raise ModelFormatError(f"{path}: format {description.get('format')!r}, expected one of {READABLE_FORMATS}")
    encoder, _ = load_encoder(directory / "encoder")
    options = description["peptide_encoder"]
    peptide_encoder = PeptideEncoder(encoder, options["terminal_slots"], tuple(options["lengths"])).eval()
    learner = allele_learner(description["input_dim"], AlleleModelConfig(**description["model"]),
                            MAMLConfig(**description["maml"]))
    tensors = load_weights(directory / "alleles.safetensors")
    if (directory / ADAPTERS_FILE).exists():
        tensors.update(load_weights(directory / ADAPTERS_FILE))
    load_weights_into(learner, directory / "alleles.safetensors",
                      {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")})
    learner.eval()
    heads, bodies, reference, alleles = {}, {}, {}, {}
    for allele, info in description["alleles"].items():
        i = info.pop("index")
        prefix, body_prefix = f"heads.{i}.", f"bodies.{i}."
        heads[allele] = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
        adapter = {k[len(body_prefix):]: v for k, v in tensors.items() if k.startswith(body_prefix)}
        if adapter:
            bodies[allele] = adapter
        if f"reference.{i}" in tensors:
            reference[allele] = tensors[f"reference.{i}"].numpy().astype(np.float64)
        alleles[allele] = info
    return MHCPredictor.build(peptide_encoder, learner, heads, alleles, reference, description.get("metadata", {}), bodies)
