"""Dataset catalog: metadata, checksums, mirror and offline behaviour, archive extraction.

No test touches the network: archives are built in tmp_path and served through
MOLPRIOR_DATA_MIRROR, or the download is pointed at a closed local port.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import re
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

from _realdata import ASPIRIN, CAFFEINE, MHC_FILE, moleculeace_head
from molprior.data import catalog, readers
from molprior.data.catalog import DATASETS, DatasetError, PypiSource, UrlSource


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache under tmp_path and no mirror."""
    root = tmp_path / "cache"
    monkeypatch.setenv(catalog.CACHE_ENV, str(root))
    monkeypatch.delenv(catalog.MIRROR_ENV, raising=False)
    return root


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    root = tmp_path / "mirror"
    root.mkdir()
    monkeypatch.setenv(catalog.MIRROR_ENV, str(root))
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def replace_source(monkeypatch, name: str, source) -> None:
    monkeypatch.setitem(DATASETS, name, dataclasses.replace(DATASETS[name], source=source))


# --------------------------------------------------------------------------- metadata

@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_dataset_has_licence_citation_and_pinned_checksum(name):
    dataset = DATASETS[name]
    assert dataset.name == name
    assert dataset.licence.strip()
    assert dataset.citation.strip()
    assert dataset.description.strip()
    checksum = dataset.source.checksum
    assert re.fullmatch(r"md5:[0-9a-f]{32}|sha256:[0-9a-f]{64}", checksum), checksum
    assert dataset.source.filename and "/" not in dataset.source.filename
    assert dataset.source.location
    assert dataset.reader in set(readers.FORMATS) | {""}  # "": fetch only (FS-Mol's target metadata)


def test_catalog_covers_the_embedded_sources():
    assert {"moleculeace", "mhc_class1", "moses", "tox21", "fsmol"} <= set(DATASETS)
    source = DATASETS["moleculeace"].source
    assert isinstance(source, PypiSource)
    assert source.filename == "MoleculeACE-3.0.0-py3-none-any.whl"
    assert source.checksum == f"sha256:{source.archive_sha256}"
    assert source.location == "PyPI MoleculeACE==3.0.0: MoleculeACE/Data/benchmark_data/"
    assert DATASETS["tox21"].source.filename == "tox21.csv.gz"
    assert DATASETS["fsmol"].source.filename == "fsmol.tar"  # the override, not the URL's last part


def test_get_is_case_insensitive():
    assert catalog.get("MoleculeACE") is DATASETS["moleculeace"]
    assert catalog.get("Tox21").name == "tox21"


def test_get_unknown_name_lists_the_known_names():
    with pytest.raises(DatasetError) as error:
        catalog.get("tox22")
    message = str(error.value)
    assert "'tox22'" in message
    for name in DATASETS:
        assert name in message


def test_a_presets_data_path_works_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no data/ here
    preset_path = "data/mhc/mhc_class1_human.csv.gz"
    assert catalog.local_or_embedded(preset_path) == MHC_FILE.resolve()
    (tmp_path / "data" / "mhc").mkdir(parents=True)
    (tmp_path / preset_path).write_text("peptide,allele\n")
    assert catalog.local_or_embedded(preset_path) == Path(preset_path)  # a file given here wins
    assert catalog.local_or_embedded("data/no_such.csv") == Path("data/no_such.csv")  # the reader says it is missing
    assert catalog.local_or_embedded("mine.csv") == Path("mine.csv")


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(catalog.CACHE_ENV, str(tmp_path / "c"))
    assert catalog.cache_dir() == tmp_path / "c"
    monkeypatch.delenv(catalog.CACHE_ENV)
    assert catalog.cache_dir() == Path.home() / ".cache" / "molprior" / "datasets"


# --------------------------------------------------------------------------- verify

def test_verify_sha256_and_md5(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(f"smiles\n{ASPIRIN}\n")
    catalog.verify(path, f"sha256:{sha256(path)}")
    catalog.verify(path, f"md5:{hashlib.md5(path.read_bytes()).hexdigest()}")
    catalog.verify(path, "unpinned")
    with pytest.raises(DatasetError) as error:
        catalog.verify(path, "sha256:" + "0" * 64)
    assert "checksum mismatch" in str(error.value)
    assert f"sha256:{sha256(path)}" in str(error.value)  # the actual hash is shown


# --------------------------------------------------------------------------- mirror

def test_mirror_file_with_wrong_content_fails_the_checksum(cache, mirror):
    (mirror / "BBBP.csv").write_text(f"smiles,p_np\n{ASPIRIN},1\n")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        catalog.fetch("bbbp")


def test_mirror_pypi_archive_with_wrong_content_fails_the_checksum(cache, mirror):
    (mirror / "MoleculeACE-3.0.0-py3-none-any.whl").write_bytes(b"PK\x03\x04 not the real wheel")
    with pytest.raises(DatasetError, match="checksum mismatch"):
        catalog.fetch("moleculeace")
    assert not (cache / "moleculeace" / "extracted").exists()
    # the bad copy is not kept, so a second fetch goes back to the mirror
    assert not (cache / "moleculeace" / "MoleculeACE-3.0.0-py3-none-any.whl").exists()


def test_mirror_without_the_file_names_the_variable(cache, mirror):
    with pytest.raises(DatasetError) as error:
        catalog.fetch("moses")
    message = str(error.value)
    assert catalog.MIRROR_ENV in message
    assert "molsets-0.3.1-py3-none-any.whl" in message
    assert str(mirror) in message


def test_url_dataset_from_a_mirror(cache, mirror, monkeypatch, tmp_path):
    text = f"smiles,p_np\n{ASPIRIN},1\n{CAFFEINE},1\n"
    (mirror / "BBBP.csv").write_text(text)
    digest = hashlib.md5(text.encode()).hexdigest()
    replace_source(monkeypatch, "bbbp", UrlSource(DATASETS["bbbp"].source.url, f"md5:{digest}"))
    path = catalog.fetch("bbbp")
    assert path == cache / "bbbp" / "BBBP.csv"
    assert path.read_text() == text
    assert readers.read_table(path).table["input"].tolist() == [ASPIRIN, CAFFEINE]
    assert not list((cache / "bbbp").glob("*.part"))


def test_explicit_cache_argument_wins_over_the_environment(cache, mirror, monkeypatch, tmp_path):
    text = f"smiles,p_np\n{ASPIRIN},1\n"
    (mirror / "BBBP.csv").write_text(text)
    replace_source(monkeypatch, "bbbp",
                   UrlSource(DATASETS["bbbp"].source.url, f"md5:{hashlib.md5(text.encode()).hexdigest()}"))
    path = catalog.fetch("bbbp", cache=tmp_path / "elsewhere")
    assert path == tmp_path / "elsewhere" / "bbbp" / "BBBP.csv"
    assert not cache.exists()


def _fake_wheel(directory: Path) -> Path:
    """A wheel laid out like MoleculeACE's, holding two real benchmark files."""
    wheel = directory / "MoleculeACE-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, n in (("CHEMBL204_Ki.csv", 6), ("CHEMBL2047_EC50.csv", 4)):
            zf.writestr(f"MoleculeACE/Data/benchmark_data/{name}", "\n".join(moleculeace_head(name, n)) + "\n")
        zf.writestr("MoleculeACE/__init__.py", "")
        zf.writestr("MoleculeACE-0.0.1.dist-info/METADATA", "Name: MoleculeACE\n")
    return wheel


def test_pypi_dataset_from_a_mirror_is_verified_and_extracted(cache, mirror, monkeypatch):
    wheel = _fake_wheel(mirror)
    replace_source(monkeypatch, "moleculeace",
                   PypiSource("MoleculeACE", "0.0.1", wheel.name, sha256(wheel), "MoleculeACE/Data/benchmark_data/"))
    path = catalog.fetch("moleculeace")
    assert path == cache / "moleculeace" / "extracted" / "MoleculeACE" / "Data" / "benchmark_data"
    assert sorted(p.name for p in path.iterdir()) == ["CHEMBL2047_EC50.csv", "CHEMBL204_Ki.csv"]
    assert not (cache / "moleculeace" / "extracted" / "MoleculeACE" / "__init__.py").exists()
    table = readers.read_table(path).table
    assert table["assay"].value_counts().to_dict() == {"CHEMBL204_Ki": 6, "CHEMBL2047_EC50": 4}
    # a second fetch uses the cache: no mirror needed
    monkeypatch.delenv(catalog.MIRROR_ENV)
    assert catalog.fetch("moleculeace") == path


def test_pypi_sdist_member_file_from_a_mirror(cache, mirror, monkeypatch):
    # an sdist laid out like epitopepredict's, holding real MHC rows
    with gzip.open(MHC_FILE, "rb") as handle:
        head = b"".join(handle.readline() for _ in range(6))
    archive = mirror / "epitopepredict-0.0.1.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        info = tarfile.TarInfo("epitopepredict-0.0.1/epitopepredict/mhcdata/binding.csv")
        info.size = len(head)
        tf.addfile(info, io.BytesIO(head))
    member = "epitopepredict-0.0.1/epitopepredict/mhcdata/binding.csv"
    replace_source(monkeypatch, "mhc_class1", PypiSource("epitopepredict", "0.0.1", archive.name, sha256(archive), member))
    path = catalog.fetch("mhc_class1")
    assert path == cache / "mhc_class1" / "extracted" / member
    assert path.read_bytes() == head
    assert len(readers.read_table(path).table) == 5


def test_extract_missing_member_raises(tmp_path):
    wheel = _fake_wheel(tmp_path)
    with pytest.raises(DatasetError, match="no member"):
        catalog._extract(wheel, "MoleculeACE/Data/absent/", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_extract_single_file_member(tmp_path):
    wheel = _fake_wheel(tmp_path)
    target = catalog._extract(wheel, "MoleculeACE/Data/benchmark_data/CHEMBL204_Ki.csv", tmp_path / "out")
    assert target.read_text().splitlines() == moleculeace_head("CHEMBL204_Ki.csv", 6)
    assert not (tmp_path / "out" / "MoleculeACE" / "Data" / "benchmark_data" / "CHEMBL2047_EC50.csv").exists()


# --------------------------------------------------------------------------- offline

def test_offline_url_download_names_the_mirror_variable(cache, monkeypatch):
    replace_source(monkeypatch, "bbbp", UrlSource("http://127.0.0.1:9/none.csv", "md5:" + "0" * 32))
    with pytest.raises(DatasetError) as error:
        catalog.fetch("bbbp")
    message = str(error.value)
    assert "offline" in message
    assert catalog.MIRROR_ENV in message
    assert "none.csv" in message
    assert not (cache / "bbbp" / "none.csv").exists()


@pytest.mark.parametrize("name, binary_flag", [("moleculeace", "--only-binary"), ("mhc_class1", "--no-binary")])
def test_failed_pip_download_names_the_mirror_variable(cache, monkeypatch, name, binary_flag):
    commands = []

    def no_index(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, "", "ERROR: Could not find a version that satisfies the requirement")

    monkeypatch.setattr(catalog.subprocess, "run", no_index)
    with pytest.raises(DatasetError) as error:
        catalog.fetch(name)
    source = DATASETS[name].source
    message = str(error.value)
    assert "offline" in message and catalog.MIRROR_ENV in message
    assert source.archive in message
    assert "Could not find a version" in message
    assert commands and f"{source.package}=={source.version}" in commands[0]
    assert binary_flag in commands[0] and "--no-deps" in commands[0]
    assert not (cache / name / source.archive).exists()
