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
    assert task.assay == ASSAY and task.inputs == labelled["smiles"].tolist()
    assert np.array_equal(task.labels, labelled["label"].to_numpy())
    assert np.allclose(task.values, labelled["value"].to_numpy(dtype=float))
    assert task.relations.dtype == np.int64 and len(task.relations) == len(task.inputs)


def test_unknown_assay_names_the_available_ones(table):
    with pytest.raises(InputError, match=ASSAY):
        tasks_from_table(table, ["NOT_AN_ASSAY"])


def test_keep_slices_every_per_molecule_field_in_the_order_given():
    task = FewShotTask("a", ["CCO", "CCN", "CCC"], np.array([1.0, 0.0, 1.0]), np.array([5.0, 6.0, 7.0]),
                       np.array([EXACT, BELOW, EXACT]))
    first = task.fingerprints.copy()
    task.keep([2, 0])
    assert task.inputs == ["CCC", "CCO"] and task.labels.tolist() == [1.0, 1.0]
    assert task.values.tolist() == [7.0, 5.0] and task.relations.tolist() == [EXACT, EXACT]
    assert np.array_equal(task.fingerprints, first[[2, 0]])


def test_keep_also_slices_the_split_the_feature_rows_and_the_metadata():
    task = FewShotTask("a", ["CCO", "CCN", "CCC"], None, np.array([5.0, 6.0, 7.0]),
                       split=np.array(["train", "test", "train"], dtype=object), rows=np.array([7, 3, 5]),
                       metadata={"cliff_mol": np.array([0, 1, 1])})
    task.keep([1, 2])
    assert task.inputs == ["CCN", "CCC"] and task.labels is None and task.relations is None
    assert task.split.tolist() == ["test", "train"] and task.rows.tolist() == [3, 5]
    assert task.metadata["cliff_mol"].tolist() == [1, 1] and len(task) == 2


def test_a_peptide_task_has_the_ecfp4_of_its_peptides_and_an_unknown_kind_is_refused():
    from molprior.chem.fingerprints import ecfp
    from molprior.immunology.peptides import peptide_to_smiles

    peptides = FewShotTask("HLA-A*02:01", ["SIINFEKL", "GILGFVFTL"], np.array([1.0, 0.0]), kind="peptide")
    assert np.array_equal(peptides.fingerprints, ecfp([peptide_to_smiles(p) for p in peptides.inputs]))
    with pytest.raises(InputError, match="HLA-A\\*02:01, input 1 \\('S1INFEKL'\\): digit '1' at position 2"):
        FewShotTask("HLA-A*02:01", ["S1INFEKL"], np.array([1.0]), kind="peptide").fingerprints
    with pytest.raises(ValueError, match="unknown input kind 'protein'"):
        FewShotTask("x", ["MKV"], np.array([1.0]), kind="protein")
