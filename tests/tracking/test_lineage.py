"""Where a registered model comes from, as its ``molprior.*`` tags (molprior.tracking.lineage):
the code's git commit (dirty or not), ChEMBL targets of assay names, assay lists short enough
for a tag however many assays a model was trained on, and tags MLflow accepts."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import mlflow
import pytest

import molprior
from molprior.chem.features import FEATURIZER_VERSION
from molprior.tracking import runs
from molprior.tracking.artifacts import SHIPPED_FEWSHOT
from molprior.tracking.lineage import MAX_LISTED, assay_list, git_commit, lineage_tags, targets_of


@pytest.fixture(scope="module")
def fsmol_training_assays() -> list[str]:
    """The 4,000-odd FS-Mol training assays the shipped few-shot model was meta-trained on."""
    assays = json.loads((SHIPPED_FEWSHOT / "model.json").read_text())["metadata"]["train_assays"]
    assert len(",".join(assays)) > MAX_LISTED
    return assays


def _git(directory: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "user.name=molprior tests", "-c", "user.email=tests@molprior.invalid", *args],
                          cwd=directory, capture_output=True, text=True, check=True).stdout.strip()


def test_the_commit_of_a_work_tree_and_whether_tracked_files_changed(tmp_path):
    _git(tmp_path, "init", "-q")
    (tmp_path / "train.py").write_text("print('train')\n")
    _git(tmp_path, "add", "train.py")
    _git(tmp_path, "commit", "-q", "-m", "first")
    head = _git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "notes.txt").write_text("an untracked file\n")
    assert git_commit(tmp_path) == head  # untracked files do not make the code dirty
    (tmp_path / "train.py").write_text("print('train, changed')\n")
    assert git_commit(tmp_path) == f"{head}+dirty"


def test_outside_a_work_tree_the_commit_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    assert git_commit(tmp_path / "absent") == "unknown"


def test_by_default_the_commit_is_that_of_molprior_s_own_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # wherever the command runs from
    checkout = Path(molprior.__file__).resolve().parents[1]
    assert git_commit() == git_commit(checkout)
    if git_commit(checkout) != "unknown":  # an installed molprior outside a clone has none
        assert git_commit().split("+")[0] == _git(checkout, "rev-parse", "HEAD")


def test_targets_are_the_chembl_ids_of_assay_names():
    assays = ["CHEMBL214_Ki", "CHEMBL214_EC50", "chembl1871_Ki", "CHEMBL2047_EC50", "in_house_kinase_3"]
    assert targets_of(assays) == ["CHEMBL2047", "CHEMBL214", "chembl1871", "in_house_kinase_3"]


def test_an_assay_list_too_long_for_a_tag_is_its_count_and_hash(fsmol_training_assays):
    assert assay_list(["CHEMBL233_Ki", "CHEMBL236_Ki"]) == "CHEMBL233_Ki,CHEMBL236_Ki"
    joined = ",".join(fsmol_training_assays)
    digest = hashlib.sha256(joined.encode()).hexdigest()
    assert assay_list(fsmol_training_assays) == (f"{len(fsmol_training_assays)} assays (sha256 {digest} "
                                                 "of the comma-joined names)")
    at_the_limit = ["CHEMBL214_Ki", "X" * (MAX_LISTED - len("CHEMBL214_Ki,"))]
    assert assay_list(at_the_limit) == ",".join(at_the_limit)  # up to MAX_LISTED characters: whole
    assert assay_list([*at_the_limit[:1], at_the_limit[1] + "X"]).startswith("2 assays (sha256 ")


def test_lineage_tags_say_where_a_model_comes_from(fsmol_training_assays):
    tags = lineage_tags(pipeline_run_id="0123abcd", metatrain_run_id="4567ef01", train_assays=fsmol_training_assays,
                        val_assays=["CHEMBL1871_Ki"], heads=["CHEMBL214_Ki", "CHEMBL2047_EC50"], algorithm="adkf",
                        data_hashes={"support.CHEMBL214_Ki": "ab" * 32},
                        metrics={"molprior.delta_auprc.k16": 0.17912345678, "n_support": 64},
                        benchmark_metric="molprior.delta_auprc.k16")
    assert tags["molprior.version"] == molprior.__version__
    assert tags["molprior.featurizer_version"] == FEATURIZER_VERSION
    assert tags["molprior.git_commit"] == git_commit()
    assert tags["molprior.pipeline_run_id"] == "0123abcd" and tags["molprior.metatrain_run_id"] == "4567ef01"
    assert tags["molprior.train_assays"] == assay_list(fsmol_training_assays)
    assert tags["molprior.val_assays"] == "CHEMBL1871_Ki"
    assert tags["molprior.assays"] == "CHEMBL214_Ki,CHEMBL2047_EC50"
    assert tags["molprior.targets"] == "CHEMBL2047,CHEMBL214"
    assert tags["molprior.task_type"] == "classification" and tags["molprior.algorithm"] == "adkf"
    assert tags["molprior.data_sha256.support.CHEMBL214_Ki"] == "ab" * 32
    assert tags["molprior.metric.molprior.delta_auprc.k16"] == "0.179123"  # six significant digits
    assert tags["molprior.metric.n_support"] == "64"
    # what is not known is left out rather than tagged empty
    assert not {"molprior.pretrain_run_id", "molprior.prior", "molprior.benchmark_run_id"} & set(tags)
    assert all(isinstance(v, str) and v for v in tags.values())


def test_mlflow_accepts_the_tags_of_a_model_trained_on_all_of_fsmol(tmp_path, monkeypatch, fsmol_training_assays):
    """A run tag holds at most 8,000 characters; FS-Mol's training assays joined are 60,000."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    tags = lineage_tags(train_assays=fsmol_training_assays, heads=["CHEMBL214_Ki"], algorithm="adkf")
    with runs.tracked_run("register") as run:
        mlflow.set_tags(tags)
    stored = mlflow.get_run(run.info.run_id).data.tags
    assert {k: stored[k] for k in tags} == tags
