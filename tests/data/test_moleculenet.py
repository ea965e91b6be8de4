"""MoleculeNet files are read through deepchem's own loaders, from a local data_dir."""

import numpy as np
import pandas as pd

from molprior.data.moleculenet import load_from_dir

TOX21_TASKS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
               "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]


def test_tox21_layout_is_read_by_deepchem_without_downloading(tmp_path, moleculeace_dir):
    # A file in Tox21's layout (real molecules; labels from MoleculeACE's cliff flags, blanks unmeasured).
    source = pd.read_csv(moleculeace_dir / "CHEMBL204_Ki.csv").head(30)
    frame = pd.DataFrame({task: source["cliff_mol"].astype(float).where((source.index + i) % 4 != 0)
                          for i, task in enumerate(TOX21_TASKS)})
    frame["mol_id"] = [f"TOX{i}" for i in range(len(frame))]
    frame["smiles"] = source["smiles"]
    frame.to_csv(tmp_path / "tox21.csv.gz", index=False)
    result = load_from_dir("tox21", tmp_path)
    table = result.table
    assert set(table["assay"]) == set(TOX21_TASKS)
    assert len(table) == int(frame[TOX21_TASKS].notna().sum().sum())  # blanks are left out
    row = table[(table["assay"] == "NR-AhR")].iloc[0]
    expected = frame.loc[frame["smiles"] == row["input"], "NR-AhR"].iloc[0]
    assert row["value"] == expected and row["label"] == expected
    assert np.isin(table["label"], [0.0, 1.0]).all()
