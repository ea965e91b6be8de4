import numpy as np
import pytest

from molprior.data.curation import standardize_table
from molprior.data.duplicates import aggregate_duplicates
from molprior.data.readers import read_moleculeace
from molprior.data.schema import BELOW, EXACT
from molprior.data.tasks import FewShotTask, tasks_from_table
from molprior.errors import InputError

ASSAY = "CHEMBL4203_Ki"


@pytest.fixture(scope="module")
def table(moleculeace_dir):
    raw = read_moleculeace(moleculeace_dir).table
    kept, _ = standardize_table(raw[raw["assay"] == ASSAY])
    return aggregate_duplicates(kept)[0]


def test_one_task_per_assay_with_its_labels_values_and_relations(table):
    task = tasks_from_table(table, [ASSAY])[0]
    labelled = table[table["label"].notna()]
    assert task.assay == ASSAY and task.smiles == labelled["smiles"].tolist()
    assert np.array_equal(task.labels, labelled["label"].to_numpy())
    assert np.allclose(task.values, labelled["value"].to_numpy(dtype=float))
    assert task.relations.dtype == np.int64 and len(task.relations) == len(task.smiles)


def test_unknown_assay_names_the_available_ones(table):
    with pytest.raises(InputError, match=ASSAY):
        tasks_from_table(table, ["NOT_AN_ASSAY"])


def test_keep_slices_every_per_molecule_field_in_the_order_given():
    task = FewShotTask("a", ["CCO", "CCN", "CCC"], np.array([1.0, 0.0, 1.0]), np.array([5.0, 6.0, 7.0]),
                       np.array([EXACT, BELOW, EXACT]))
    first = task.fingerprints.copy()
    task.keep([2, 0])
    assert task.smiles == ["CCC", "CCO"] and task.labels.tolist() == [1.0, 1.0]
    assert task.values.tolist() == [7.0, 5.0] and task.relations.tolist() == [EXACT, EXACT]
    assert np.array_equal(task.fingerprints, first[[2, 0]])
