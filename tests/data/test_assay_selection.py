"""Tests for molprior.data.assay_selection: names, names holding commas, ranges."""

from __future__ import annotations

import pytest

from molprior.data.assay_selection import is_range, resolve_assays

#: SIDER's columns (MoleculeNet), several of them holding commas.
SIDER = ["Hepatobiliary disorders", "Metabolism and nutrition disorders", "Product issues", "Eye disorders",
         "Investigations", "Musculoskeletal and connective tissue disorders", "Gastrointestinal disorders",
         "Social circumstances", "Immune system disorders", "Reproductive system and breast disorders",
         "Neoplasms benign, malignant and unspecified (incl cysts and polyps)",
         "General disorders and administration site conditions", "Endocrine disorders",
         "Surgical and medical procedures", "Vascular disorders", "Blood and lymphatic system disorders",
         "Skin and subcutaneous tissue disorders", "Congenital, familial and genetic disorders",
         "Infections and infestations", "Respiratory, thoracic and mediastinal disorders", "Psychiatric disorders",
         "Renal and urinary disorders", "Pregnancy, puerperium and perinatal conditions",
         "Ear and labyrinth disorders", "Cardiac disorders", "Nervous system disorders",
         "Injury, poisoning and procedural complications"]


def test_names_with_commas_are_taken_whole():
    chosen = resolve_assays(["Pregnancy, puerperium and perinatal conditions", "Cardiac disorders"], SIDER)
    assert chosen == ["Pregnancy, puerperium and perinatal conditions", "Cardiac disorders"]


@pytest.mark.parametrize("item, expected", [("-6:", SIDER[-6:]), ("0:2", SIDER[:2]), (":1", SIDER[:1]),
                                            ("25:", SIDER[25:]), ("-3:-1", SIDER[-3:-1])])
def test_ranges_select_by_position_in_file_order(item, expected):
    assert is_range(item)
    assert resolve_assays([item], SIDER) == expected


def test_names_and_ranges_mix_and_repeats_are_dropped():
    assert resolve_assays(["Cardiac disorders", "-4:"], SIDER) == [
        "Cardiac disorders", "Ear and labyrinth disorders", "Nervous system disorders",
        "Injury, poisoning and procedural complications"]


def test_an_unknown_name_is_named_with_the_closest_and_how_to_quote():
    with pytest.raises(ValueError, match=r"no assay 'Pregnancy'.*quoted") as error:
        resolve_assays(["Pregnancy"], SIDER, "--test-assays")
    assert str(error.value).startswith("--test-assays")
    with pytest.raises(ValueError, match="closest: 'Cardiac disorders'"):
        resolve_assays(["Cardiac disorder"], SIDER)


def test_an_empty_range_is_an_error_and_unknown_names_can_be_allowed():
    with pytest.raises(ValueError, match="selects none"):
        resolve_assays(["40:"], SIDER)
    assert resolve_assays(["CHEMBL1", "-1:"], SIDER, unknown_ok=True) == ["CHEMBL1", SIDER[-1]]
    assert not is_range("CHEMBL214_Ki") and not is_range("Pregnancy, puerperium")
