"""The peptide prior: continued pretraining of the shipped prior on peptides and molecules.

    python pipelines/pretrain_peptides.py train --output runs/peptide-prior [--resume] [molprior pretrain options]
    python pipelines/pretrain_peptides.py evaluate --model runs/peptide-prior [--baseline molprior/priors/default]
    python pipelines/pretrain_peptides.py ship --run runs/peptide-prior [--to molprior/priors/peptide]

``train`` runs ``molprior pretrain`` with molprior/presets/pretrain_peptides.yaml (the
default prior, continued on the MHC class I peptides of data/mhc that no held-out allele of
the MHC benchmark has measured, mixed with 25,000 MOSES molecules).  ``evaluate``
measures a generator (and, for comparison, a baseline) on molecules no run has trained on:
peptides measured on the benchmark's held-out alleles, and MOSES molecules past the first
25,000 lines; it also samples from the prior.  ``ship`` copies a run's model, training
history and loss curves into the priors directory (keeping its MODEL_CARD.md) and rewrites
the checksums manifest.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

from molprior.presets import PRESETS_DIR

ROOT = Path(__file__).resolve().parents[1]
CONFIG = PRESETS_DIR / "pretrain_peptides.yaml"
PEPTIDE_PRIOR = ROOT / "molprior" / "priors" / "peptide"
# three residues joined by peptide bonds: N-C(alpha)-C(=O)-N-C(alpha)-C(=O)-N-C(alpha)-C(=O)
BACKBONE = "[NX3][CX4][CX3](=O)[NX3][CX4][CX3](=O)[NX3][CX4][CX3](=O)"


def held_out_sets(n: int, seed: int = 0) -> dict[str, list[str]]:
    """``n`` peptides measured on the MHC benchmark's held-out alleles (none is in the peptide
    prior's corpus) and ``n`` MOSES molecules past the lines the corpus reads, as canonical
    SMILES."""
    from molprior.immunology.peptides import check_peptide, peptide_to_smiles
    from molprior.chem.standardize import canonical_smiles

    config = yaml.safe_load(CONFIG.read_text())
    benchmark = yaml.safe_load((ROOT / config["exclude_alleles"]).read_text())
    table = pd.read_csv(ROOT / config["peptides"])
    low, high = config["peptide_lengths"]
    held = table.loc[table["allele"].isin(benchmark["held_out"]), "peptide"].drop_duplicates()
    held = [c.peptide for c in map(lambda p: check_peptide(p, (low, high)), held) if c.ok]
    rng = np.random.default_rng(seed)
    peptides = [held[i] for i in np.sort(rng.choice(len(held), size=min(n, len(held)), replace=False))]
    moses = pd.read_csv(ROOT / config["corpus"]).iloc[config["max_molecules"]:, 0]
    molecules = [canonical_smiles(s) for s in moses.sample(n, random_state=seed)]
    return {"held_out_allele_peptides": [peptide_to_smiles(p) for p in peptides],
            "unseen_moses_molecules": [s for s in molecules if s]}


def evaluate_generator(directory: str | Path, sets: dict[str, list[str]], samples: int = 1000) -> dict:
    """On each set: greedy reconstruction from the latent mean (exact-match accuracy, and the
    mean Tanimoto similarity, Morgan radius 2, of the reconstruction to the input) and, where
    the vocabulary covers every molecule, the teacher-forced reconstruction loss (nats per
    molecule) and token accuracy; on ``samples`` prior samples: validity, uniqueness and the
    fraction of peptides (three residues in a row)."""
    from rdkit import Chem, DataStructs
    from rdkit.Chem import rdFingerprintGenerator
    from torch_geometric.data import Batch

    from molprior.chem.featurize import featurize_smiles
    from molprior.chem.tokenizer import TokenizationError
    from molprior.metrics.generation import generation_metrics
    from molprior.models.generative import sample_smiles
    from molprior.tracking.artifacts import resolve_model_dir
    from molprior.serialization import load_generator
    from molprior.training.pretrain_data import GraphTokenDataset, collate

    model, vocabulary, _ = load_generator(resolve_model_dir(str(directory)))
    model.eval()
    morgan = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    result: dict = {"vocabulary_size": len(vocabulary)}
    for name, smiles in sets.items():
        graphs = featurize_smiles(smiles).graphs
        try:
            ids = [vocabulary.encode(s) for s in graphs.smiles]
        except TokenizationError:
            ids = None
        dataset = GraphTokenDataset(graphs, ids or [[vocabulary.eos_id]] * len(graphs))
        exact, similarity, nats, correct, tokens = 0, 0.0, 0.0, 0, 0
        with torch.no_grad():
            for start in range(0, len(dataset), 128):
                items = [dataset[i] for i in range(start, min(len(dataset), start + 128))]
                batch = Batch.from_data_list([graph for graph, _ in items])
                mean, _ = model.encode(batch)
                decoded = model.decoder.generate(mean, vocabulary.max_length, vocabulary.bos_id, vocabulary.eos_id,
                                                 greedy=True)
                for i, row in zip(range(start, start + len(items)), decoded.tolist()):
                    out = vocabulary.decode(row)
                    exact += out == graphs.smiles[i]
                    mol = Chem.MolFromSmiles(out) if out else None
                    if mol is not None:
                        similarity += DataStructs.TanimotoSimilarity(
                            morgan.GetFingerprint(mol), morgan.GetFingerprint(Chem.MolFromSmiles(graphs.smiles[i])))
                if ids is not None:
                    graph_batch, inputs, targets = collate(items, vocabulary.bos_id, vocabulary.pad_id)
                    logits = model.decoder(mean, inputs)
                    mask = targets != vocabulary.pad_id
                    nats += float(torch.nn.functional.cross_entropy(
                        logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=vocabulary.pad_id,
                        reduction="sum"))
                    correct += int(((logits.argmax(-1) == targets) & mask).sum())
                    tokens += int(mask.sum())
        entry = {"n": len(dataset), "reconstruction_accuracy": exact / len(dataset),
                 "reconstruction_tanimoto": similarity / len(dataset)}
        if ids is not None:
            entry.update({"reconstruction_nats": nats / len(dataset), "token_accuracy": correct / tokens})
        result[name] = entry
    sampled = sample_smiles(model, vocabulary, samples, seed=0)
    metrics = generation_metrics(sampled)
    backbone = Chem.MolFromSmarts(BACKBONE)
    mols = [Chem.MolFromSmiles(s) for s in sampled if s]
    result["samples"] = {"n": samples, "validity": metrics["validity"], "uniqueness": metrics["uniqueness"],
                         "internal_diversity": metrics["internal_diversity"],
                         "peptide_fraction": sum(m is not None and m.HasSubstructMatch(backbone) for m in mols) / samples,
                         "mean_heavy_atoms": float(np.mean([m.GetNumHeavyAtoms() for m in mols if m is not None]))}
    return result


def ship(run: Path, target: Path) -> Path:
    """Copy the run's model, history and curves into ``target``; rewrite its manifest."""
    from molprior.files import write_manifest
    from molprior.serialization import load_encoder, load_generator

    load_generator(run / "model")  # checks the run's manifest before anything is copied
    target.mkdir(parents=True, exist_ok=True)
    for name in ("generator.json", "generator.safetensors"):
        shutil.copy2(run / "model" / name, target / name)
    shutil.copytree(run / "model" / "encoder", target / "encoder", dirs_exist_ok=True)
    for name in ("training_history.json", "loss_curves.png"):
        shutil.copy2(run / name, target / name)
    if not (target / "MODEL_CARD.md").exists():
        print(f"note: {target} has no MODEL_CARD.md yet; write it, then run ship again", file=sys.stderr)
    write_manifest(target)
    load_generator(target)
    load_encoder(target / "encoder")
    return target


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["train"]:
        from molprior.cli.main import main as molprior

        rest = argv[1:]
        if "--config" not in rest:
            rest = ["--config", str(CONFIG)] + rest
        return molprior(["pretrain", *rest])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("train", help="molprior pretrain with the peptide configuration (options passed on)")
    evaluate = commands.add_parser("evaluate", help="held-out reconstruction and prior samples")
    evaluate.add_argument("--model", default=str(PEPTIDE_PRIOR))
    evaluate.add_argument("--baseline", default=str(ROOT / "molprior" / "priors" / "default"))
    evaluate.add_argument("-n", type=int, default=500, help="molecules per held-out set")
    evaluate.add_argument("--output", help="JSON file for the results")
    shipping = commands.add_parser("ship", help="copy a run into the priors directory")
    shipping.add_argument("--run", required=True)
    shipping.add_argument("--to", default=str(PEPTIDE_PRIOR))
    args = parser.parse_args(argv)
    if args.command == "ship":
        print(f"shipped to {ship(Path(args.run), Path(args.to))}")
        return 0
    torch.manual_seed(0)
    sets = held_out_sets(args.n)
    results = {"model": evaluate_generator(args.model, sets)}
    if args.baseline:
        results["baseline"] = evaluate_generator(args.baseline, sets)
    text = json.dumps(results, indent=1)
    print(text)
    if args.output:
        from molprior.files import write_text

        write_text(text + "\n", args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
