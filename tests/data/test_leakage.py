"""Molecules shared between training data and test assays: keys, the leak guard, the seen record."""

from __future__ import annotations

import numpy as np
import pytest

from molprior.data import leakage
from molprior.data.tasks import FewShotTask

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
ASPIRIN_OTHER_SPELLING = "OC(=O)c1ccccc1OC(C)=O"
L_ALANINE, D_ALANINE = "C[C@@H](C(=O)O)N", "C[C@H](C(=O)O)N"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
PARACETAMOL = "CC(=O)Nc1ccc(O)cc1"
IBUPROFEN = "CC(C)Cc1ccc(cc1)C(C)C(=O)O"


def test_the_key_is_the_molecule_not_its_spelling_and_ignores_stereochemistry():
    assert leakage.molecule_key(ASPIRIN) == leakage.molecule_key(ASPIRIN_OTHER_SPELLING)
    assert leakage.molecule_key(L_ALANINE) == leakage.molecule_key(D_ALANINE)  # the safe side for a guard
    assert leakage.molecule_key(ASPIRIN) != leakage.molecule_key(CAFFEINE)
    assert len(leakage.molecule_key(CAFFEINE)) == 14  # the InChIKey's first block
    assert leakage.molecule_key("C1CC") is None


def test_keys_do_not_depend_on_workers_or_chunks(monkeypatch):
    smiles = [ASPIRIN, CAFFEINE, PARACETAMOL, IBUPROFEN, L_ALANINE, "C1CC", ASPIRIN]
    monkeypatch.setattr(leakage, "_KNOWN_KEYS", {})
    one = leakage.molecule_keys(smiles)
    monkeypatch.setattr(leakage, "_KNOWN_KEYS", {})  # computed afresh, in workers
    assert leakage.molecule_keys(smiles, jobs=2, chunk=2) == one
    assert set(one) == set(smiles) - {"C1CC"}


def test_keys_are_computed_once_per_process(monkeypatch):
    monkeypatch.setattr(leakage, "_KNOWN_KEYS", {})
    first = leakage.molecule_keys([ASPIRIN, "C1CC"])

    def computed_again(smiles):
        raise AssertionError(f"recomputed {smiles}")

    monkeypatch.setattr(leakage, "_keys_of", computed_again)
    assert leakage.molecule_keys(["C1CC", ASPIRIN]) == first == {ASPIRIN: leakage.molecule_key(ASPIRIN)}
    with pytest.raises(AssertionError, match="recomputed"):
        leakage.molecule_keys([CAFFEINE])


def _task(name: str, smiles: list[str]) -> FewShotTask:
    return FewShotTask(name, list(smiles), np.arange(len(smiles), dtype=np.float64) % 2)


def test_the_guard_leaves_out_tasks_over_the_fraction_and_drops_shared_molecules_from_the_rest():
    many = _task("many", [ASPIRIN, CAFFEINE, PARACETAMOL])          # 2 of 3 shared: over 0.5
    few = _task("few", [ASPIRIN_OTHER_SPELLING, IBUPROFEN, L_ALANINE, PARACETAMOL])  # 1 of 4 shared
    none = _task("none", [IBUPROFEN, L_ALANINE])
    smiles = {s for t in (many, few, none) for s in t.inputs}
    keys = leakage.molecule_keys(smiles)
    guarded = {leakage.molecule_key(ASPIRIN), leakage.molecule_key(CAFFEINE)}
    result = leakage.guard_tasks([many, few, none], guarded, keys, max_shared_fraction=0.5)
    assert [t.assay for t in result.kept] == ["few", "none"]
    assert few.inputs == [IBUPROFEN, L_ALANINE, PARACETAMOL] and few.labels.tolist() == [1.0, 0.0, 1.0]
    assert none.inputs == [IBUPROFEN, L_ALANINE]
    report = result.report.set_index("assay")
    assert report.loc["many", "action"] == "left out" and report.loc["many", "shared"] == 2
    assert report.loc["few", "action"] == "shared molecules dropped" and report.loc["few", "shared_fraction"] == 0.25
    assert "none" not in report.index
    assert result.tasks_left_out == 1 and result.molecules_dropped == 1


def test_a_task_exactly_at_the_fraction_is_kept_and_a_bad_fraction_is_refused():
    half = _task("half", [ASPIRIN, IBUPROFEN])
    keys = leakage.molecule_keys(half.inputs)
    result = leakage.guard_tasks([half], {keys[ASPIRIN]}, keys, max_shared_fraction=0.5)
    assert [t.inputs for t in result.kept] == [[IBUPROFEN]]
    with pytest.raises(ValueError, match="max_shared_fraction"):
        leakage.guard_tasks([half], set(), keys, max_shared_fraction=1.5)


def test_a_model_records_its_molecules_and_recognises_them_in_any_spelling(tmp_path):
    keys = leakage.molecule_keys([ASPIRIN, CAFFEINE, CAFFEINE])
    seen = leakage.seen_keys(keys.values())
    assert seen.dtype == np.int64 and len(seen) == 2 and (np.diff(seen) > 0).all()
    leakage.save_seen(seen, tmp_path)
    loaded = leakage.load_seen(tmp_path)
    np.testing.assert_array_equal(loaded, seen)
    mask = leakage.seen_mask([ASPIRIN_OTHER_SPELLING, PARACETAMOL, "C1CC", CAFFEINE], loaded)
    assert mask.tolist() == [True, False, False, True]
    assert leakage.seen_mask([ASPIRIN], np.array([], dtype=np.int64)).tolist() == [False]
    assert leakage.load_seen(tmp_path / "elsewhere") is None


def test_the_skeleton_prefilter_changes_no_answer_and_spares_the_keys(monkeypatch):
    """Seen or not, with the model's skeleton hashes, is what the keys alone say; only the
    molecules whose skeleton the model knows get a key computed."""
    import pandas as pd

    from molprior.chem.featurize import featurize_smiles
    from molprior.data.catalog import data_dir

    smiles = pd.read_csv(data_dir() / "moses" / "moses_train_50k.csv.gz")["smiles"].head(1200).tolist()
    trained, library = smiles[:600], smiles[300:1200]  # half of the library was trained on
    trained_graphs = featurize_smiles(trained).graphs
    seen = leakage.seen_keys(leakage.molecule_keys(trained).values())
    skeletons = leakage.seen_skeletons(trained_graphs)
    graphs = featurize_smiles(library).graphs
    expected = leakage.seen_mask(graphs.smiles, seen)
    asked = []
    original = leakage.molecule_keys
    monkeypatch.setattr(leakage, "molecule_keys", lambda s, jobs=1: asked.extend(s) or original(s, jobs))
    got = leakage.seen_mask(graphs.smiles, seen, 1, skeletons, graphs)
    assert got.tolist() == expected.tolist() and got[:300].all() and not got[300:].all()
    assert 300 <= len(asked) < 400  # the trained ones, and the few new ones sharing a skeleton
    with pytest.raises(ValueError, match="in their order"):
        leakage.seen_mask(graphs.smiles[::-1], seen, 1, skeletons, graphs)
