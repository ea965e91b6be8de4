"""The few-shot model shipped in molprior/priors/fewshot: complete, verified, the default start of
``adapt`` and ``predict``, kept clear of MoleculeACE's molecules and FS-Mol's test tasks, and
sane on FS-Mol test tasks it never saw (a check that the shipped files are the trained model;
its accuracy is measured by ``molprior benchmark fewshot``, see its MODEL_CARD.md)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from molprior.cli.main import main
from molprior.data import leakage
from molprior.data.episodes import fsmol_episode
from molprior.data.fsmol import readable_smiles
from molprior.files import verify_manifest
from molprior.meta.batches import MoleculeBank
from molprior.tracking.artifacts import SHIPPED_FEWSHOT, resolve_model_dir
from molprior.serialization import load_learner

DATA = Path(__file__).resolve().parents[2] / "data"
MOLECULEACE_TEST = ["CHEMBL1862_Ki", "CHEMBL204_Ki", "CHEMBL2047_EC50", "CHEMBL214_Ki", "CHEMBL231_Ki",
                    "CHEMBL262_Ki", "CHEMBL3979_EC50", "CHEMBL4203_Ki"]


@pytest.fixture(scope="module")
def fsmol() -> pd.DataFrame:
    return pd.read_csv(DATA / "fsmol" / "fsmol.csv.gz", keep_default_na=False)


@pytest.fixture(scope="module")
def shipped():
    return load_learner(resolve_model_dir(None, kind="fewshot"))


def test_the_shipped_model_is_complete_verified_and_small(shipped):
    assert resolve_model_dir(None, kind="fewshot") == SHIPPED_FEWSHOT
    assert verify_manifest(SHIPPED_FEWSHOT, required=True)
    listed = set(json.loads((SHIPPED_FEWSHOT / "checksums.json").read_text())["sha256"])
    assert {"model.safetensors", "model.json", leakage.SEEN_FILE, "MODEL_CARD.md"} <= listed
    assert sum(p.stat().st_size for p in SHIPPED_FEWSHOT.iterdir()) <= 20 * 2**20
    learner, description = shipped
    assert learner.config.algorithm == "adkf" and not description["adapted"]
    card = (SHIPPED_FEWSHOT / "MODEL_CARD.md").read_text()
    assert "## FS-Mol test tasks" in card and "## Calibration on FS-Mol's valid tasks" in card


def test_it_never_saw_fsmols_test_tasks_or_moleculeaces_molecules(shipped, fsmol):
    metadata = shipped[1]["metadata"]
    splits = fsmol.drop_duplicates("assay").set_index("assay")["split"]
    assert set(splits[metadata["train_assays"]]) == {"train"}
    assert set(splits[metadata["val_assays"]]) == {"valid"}
    assert metadata["leak_guard"]["against"] == ["dataset:moleculeace"]
    seen = leakage.load_seen(SHIPPED_FEWSHOT)
    assert len(seen) > 100_000
    moleculeace = pd.concat([pd.read_csv(DATA / "moleculeace" / f"{a}.csv") for a in MOLECULEACE_TEST])
    assert not leakage.seen_mask(moleculeace["smiles"].tolist(), seen).any()
    train = fsmol.loc[fsmol["assay"] == metadata["train_assays"][0], "smiles"].tolist()
    assert leakage.seen_mask(train[:20], seen).mean() > 0.5  # its training molecules it does know


def test_it_ranks_the_queries_of_fsmol_test_tasks_it_never_saw(shipped, fsmol):
    """FS-Mol's draw 0 at 64 on the first five test tasks: adapted on the support, it ranks the
    query better than chance on average, and gives every query molecule a finite positive spread."""
    learner, _ = shipped
    tasks = list(dict.fromkeys(fsmol.loc[fsmol["split"] == "test", "assay"]))[:5]
    aucs = []
    for task in tasks:
        rows = fsmol[fsmol["assay"] == task]
        smiles = readable_smiles(rows["smiles"])[0].tolist()
        labels = rows["label"].to_numpy(dtype=float)
        episode = fsmol_episode(labels, 64, 0)
        bank, errors = MoleculeBank.build(smiles, fingerprint_bits=learner.model.head_config.fingerprint_dim)
        assert not errors
        support, query = bank.indices([smiles[i] for i in episode.support]), bank.indices([smiles[i] for i in episode.query])
        with torch.no_grad():
            adapted = learner.adapt(bank.batch(support), torch.tensor(labels[episode.support], dtype=torch.float32))
            mean, variance = learner.predict_with_variance(adapted, bank.batch(query))
        assert torch.isfinite(variance).all() and (variance > 0).all()
        aucs.append(roc_auc_score(labels[episode.query], mean.numpy()))
    assert np.mean(aucs) > 0.6


def test_adapt_and_predict_start_from_it_by_default(tmp_path, capsys, moleculeace_dir):
    assay = pd.read_csv(moleculeace_dir / "CHEMBL214_Ki.csv")
    assay.iloc[:64][["smiles", "y"]].to_csv(tmp_path / "support.csv", index=False)
    assay.iloc[64:84][["smiles"]].to_csv(tmp_path / "library.csv", index=False)
    assert main(["adapt", "--support", str(tmp_path / "support.csv"), "-o", str(tmp_path / "adapted")]) == 0
    out = capsys.readouterr().out
    assert "0 of the 64 support molecules were in the model's meta-training data" in out
    description = json.loads((tmp_path / "adapted" / "model.json").read_text())
    assert description["metadata"]["parent_model"] == "shipped few-shot model"
    assert main(["predict", "--model", str(tmp_path / "adapted"), "--input", str(tmp_path / "library.csv"),
                 "-o", str(tmp_path / "scores.csv")]) == 0
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 20 and scores["error"].isna().all()
    assert scores["probability_active"].between(0, 1).all() and (scores["uncertainty"] > 0).all()
    assert "0 of the 20 scored molecules were in the model's meta-training data" in capsys.readouterr().out
