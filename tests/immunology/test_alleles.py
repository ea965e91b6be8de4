"""Tests for molprior.immunology.alleles: allele spellings, resolution against supported alleles."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from molprior.immunology.alleles import (TWO_FIELD, AlleleError, closest_alleles, normalize_allele, parse_genotype,
                                         resolve_allele)

MHC = Path(__file__).resolve().parents[2] / "data" / "mhc" / "mhc_class1_human.csv.gz"


@pytest.fixture(scope="module")
def supported() -> list[str]:
    """The 81 human class I alleles with binding data in data/."""
    return sorted(pd.read_csv(MHC, usecols=["allele"])["allele"].unique())


def test_supported_alleles_are_canonical(supported):
    assert len(supported) == 81
    assert [normalize_allele(a) for a in supported] == supported
    # what resolve_allele's shortcut relies on: a two-field name is its own normalisation
    assert all(TWO_FIELD.fullmatch(a) for a in supported)
    assert not TWO_FIELD.fullmatch("HLA-A0201") and not TWO_FIELD.fullmatch("HLA-A*02:01:01")


def test_a_supported_two_field_name_resolves_without_loading_the_parser(supported):
    code = ("import sys; from molprior.immunology.alleles import resolve_allele; "
            f"print(resolve_allele('HLA-B*07:02', {supported!r}), 'mhcgnomes' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["HLA-B*07:02", "False"]
    assert resolve_allele("HLA-B0702", supported) == "HLA-B*07:02"  # any other spelling is parsed


@pytest.mark.parametrize("spelling", [
    "HLA-A*02:01", "HLA-A0201", "A*02:01", "HLA-A02:01", "A0201", "hla-a*02:01", " HLA-A*02:01 ",
    "HLA-A*02:01:01", "HLA-A*02:01:01:02L", "HLA-A*0201",
])
def test_spellings_of_a0201(spelling):
    assert normalize_allele(spelling) == "HLA-A*02:01"


def test_other_loci_and_species_normalise():
    assert normalize_allele("HLA-B*07:02") == "HLA-B*07:02"
    assert normalize_allele("Cw*0702") == "HLA-C*07:02"
    assert normalize_allele("HLA-DRB1*01:01:01") == "HLA-DRB1*01:01"
    assert normalize_allele("Mamu-A*01:01") == "Mamu-A*01:01"


@pytest.mark.parametrize("name, message", [
    ("HLA-A*02", "'HLA-A*02' names only the allele group HLA-A*02; give a two-field allele name such as HLA-A*02:01"),
    ("HLA-Z*99:99", "cannot parse allele name 'HLA-Z*99:99'"),
    ("foo", "cannot parse allele name 'foo'"),
    ("", "empty allele name"),
    ("   ", "empty allele name"),
    ("HLA-A2", "'HLA-A2' names a serotype (HLA-A2), not an allele; give a two-field allele name such as HLA-A*02:01"),
    ("HLA-A", "'HLA-A' names a gene (HLA-A), not an allele; give a two-field allele name such as HLA-A*02:01"),
    ("H-2-Kb", "'H-2-Kb' is a mouse allele (H2-K*b): only human HLA class I (HLA-A, -B, -C) is supported"),
    ("HLA-A*02:01N", "'HLA-A*02:01N' is a null allele (not expressed)"),
])
def test_malformed_names(name, message):
    with pytest.raises(AlleleError) as caught:
        normalize_allele(name)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize("spelling", ["HLA-A0201", "A*02:01", "hla-a*02:01", " HLA-A*02:01 ", "HLA-A*02:01:01"])
def test_resolve_supported(spelling, supported):
    assert resolve_allele(spelling, supported) == "HLA-A*02:01"


def test_resolve_returns_supported_spelling():
    assert resolve_allele("HLA-A*02:01", {"HLA-A0201", "HLA-B0702"}) == "HLA-A0201"


def test_unknown_allele_same_group_first(supported):
    with pytest.raises(AlleleError) as caught:
        resolve_allele("HLA-A*02:99", supported)
    assert str(caught.value) == ("unknown allele 'HLA-A*02:99'; closest supported: "
                                 "HLA-A*02:01, HLA-A*02:02, HLA-A*02:03")
    assert caught.value.suggestions == ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*02:03"]
    assert caught.value.name == "HLA-A*02:99"


def test_unknown_allele_other_spelling_is_read_back(supported):
    with pytest.raises(AlleleError, match=r"^unknown allele 'B0705' \(read as HLA-B\*07:05\); closest supported: "
                                          r"HLA-B\*07:01, HLA-B\*07:02, "):
        resolve_allele("B0705", supported)


def test_unknown_allele_same_gene(supported):
    with pytest.raises(AlleleError) as caught:
        resolve_allele("HLA-C*07:04", supported)
    assert caught.value.suggestions[:2] == ["HLA-C*07:01", "HLA-C*07:02"]
    assert all(s.startswith("HLA-C*") for s in caught.value.suggestions)
    assert len(caught.value.suggestions) == 3


def test_group_only_suggests_its_group(supported):
    with pytest.raises(AlleleError) as caught:
        resolve_allele("HLA-A*02", supported)
    assert str(caught.value).startswith("'HLA-A*02' names only the allele group HLA-A*02; ")
    assert str(caught.value).endswith("; closest supported: HLA-A*02:01, HLA-A*02:02, HLA-A*02:03")


def test_unparseable_names_fall_back_to_string_similarity(supported):
    with pytest.raises(AlleleError) as caught:
        resolve_allele("HLA-Z*99:99", supported)
    assert 1 <= len(caught.value.suggestions) <= 3
    assert set(caught.value.suggestions) <= set(supported)
    with pytest.raises(AlleleError) as caught:
        resolve_allele("foo", supported)
    assert str(caught.value) == "cannot parse allele name 'foo'; no similar supported allele"
    assert caught.value.suggestions == []


def test_closest_alleles_serotype(supported):
    assert closest_alleles("HLA-A2", supported) == ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*02:03"]
    assert closest_alleles("HLA-A*02:99", supported, n=5)[:4] == ["HLA-A*02:01", "HLA-A*02:02", "HLA-A*02:03",
                                                                   "HLA-A*02:05"]


def test_parse_genotype(supported):
    alleles, errors = parse_genotype("HLA-A*02:01,HLA-B*07:02; A0201  hla-a*02:01\tC*06:02,,", supported)
    assert alleles == ["HLA-A*02:01", "HLA-B*07:02", "HLA-C*06:02"]
    assert errors == []


def test_parse_genotype_reports_bad_names(supported):
    alleles, errors = parse_genotype("HLA-A*02:99, HLA-B*07:02, foo, HLA-A*02, foo", supported)
    assert alleles == ["HLA-B*07:02"]
    assert errors == [
        "unknown allele 'HLA-A*02:99'; closest supported: HLA-A*02:01, HLA-A*02:02, HLA-A*02:03",
        "cannot parse allele name 'foo'; no similar supported allele",
        "'HLA-A*02' names only the allele group HLA-A*02; give a two-field allele name such as HLA-A*02:01; "
        "closest supported: HLA-A*02:01, HLA-A*02:02, HLA-A*02:03",
    ]
    assert parse_genotype("", supported) == ([], [])


@pytest.mark.parametrize("name, message", [
    ("H-2-Kb", "'H-2-Kb' is a mouse allele (H2-K*b): only human HLA class I (HLA-A, -B, -C) is supported"),
    ("H2-Db", "'H2-Db' is a mouse allele (H2-D*b): only human HLA class I (HLA-A, -B, -C) is supported"),
    ("Mamu-A*01:01", "'Mamu-A*01:01' is a rhesus monkey allele (Mamu-A*01:01): only human HLA class I "
                     "(HLA-A, -B, -C) is supported"),
    ("HLA-DRB1*01:01", "'HLA-DRB1*01:01' is an MHC class II allele (HLA-DRB1*01:01): only class I is supported"),
    ("DQA1*01:01", "'DQA1*01:01' is an MHC class II allele (HLA-DQA1*01:01): only class I is supported"),
    ("HLA-DRA*01:01/DRB1*01:01", "'HLA-DRA*01:01/DRB1*01:01' is an MHC class II allele pair "
                                 "(HLA-DRA*01:01/DRB1*01:01): only class I is supported"),
])
def test_other_species_and_class_ii_are_told_what_is_supported(name, message, supported):
    with pytest.raises(AlleleError) as caught:
        resolve_allele(name, supported)
    assert str(caught.value) == message  # not "only one allele field", not "closest supported: HLA-B*51:01"
    assert caught.value.suggestions == []


def test_a_model_that_scores_a_species_resolves_it():
    assert resolve_allele("Mamu-A*01:01", ["HLA-A*02:01", "Mamu-A*01:01"]) == "Mamu-A*01:01"
    with pytest.raises(AlleleError, match=r"^unknown allele 'Mamu-A\*02:01'; closest supported: Mamu-A\*01:01"):
        resolve_allele("Mamu-A*02:01", ["HLA-A*02:01", "Mamu-A*01:01"])
    with pytest.raises(AlleleError, match="'H-2-Kb' is a mouse allele .*: the model has no mouse alleles"):
        resolve_allele("H-2-Kb", ["HLA-A*02:01", "Mamu-A*01:01"])
