"""molprior.files: atomic writes and content hashes."""

from __future__ import annotations

import hashlib
import os

import pandas as pd
import pytest

from molprior import files

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1c(=O)c2c(ncn2C)n(C)c1=O"


def listing(directory):
    return sorted(os.listdir(directory))


def test_atomic_path_replaces_the_target_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with files.atomic_path(target) as tmp:
        assert tmp != target and tmp.parent == target.parent
        assert tmp.name.endswith(".part") and tmp.name.startswith(".out.txt.")
        tmp.write_text("new")
        assert target.read_text() == "old"  # not visible until the block ends
    assert target.read_text() == "new"
    assert listing(tmp_path) == ["out.txt"]


def test_atomic_path_keeps_the_old_file_when_the_block_fails(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with files.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert listing(tmp_path) == ["out.txt"]


def test_atomic_path_creates_missing_directories(tmp_path):
    target = tmp_path / "a" / "b" / "out.txt"
    with files.atomic_path(target) as tmp:
        tmp.write_text("x")
    assert target.read_text() == "x"


def test_write_csv_writes_without_index(tmp_path):
    frame = pd.DataFrame({"smiles": [ASPIRIN, CAFFEINE], "value": [6.5, 7.0]}, index=[10, 11])
    path = files.write_csv(frame, tmp_path / "t.csv")
    assert path == tmp_path / "t.csv"
    assert path.read_text().splitlines() == ["smiles,value", f"{ASPIRIN},6.5", f"{CAFFEINE},7.0"]
    files.write_csv(frame, tmp_path / "i.csv", index=True)
    assert (tmp_path / "i.csv").read_text().splitlines()[1].startswith("10,")


def test_write_csv_failure_keeps_the_old_file_and_leaves_no_part_file(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    good = pd.DataFrame({"smiles": [ASPIRIN], "value": [6.5]})
    files.write_csv(good, path)
    before = path.read_bytes()

    def broken(self, target, *args, **kwargs):
        with open(target, "w") as handle:
            handle.write("smiles,val")
        raise OSError("No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", broken)
    with pytest.raises(OSError):
        files.write_csv(pd.DataFrame({"smiles": [CAFFEINE], "value": [7.0]}), path)
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["t.csv"]


def test_write_text(tmp_path):
    path = files.write_text('{"a": 1}\n', tmp_path / "s.json")
    assert path.read_text() == '{"a": 1}\n'
    files.write_text("second\n", path)
    assert path.read_text() == "second\n"
    assert listing(tmp_path) == ["s.json"]


def test_file_hash_of_a_file(tmp_path):
    path = tmp_path / "f.csv"
    path.write_bytes(b"smiles\n" + ASPIRIN.encode() + b"\n")
    assert files.file_hash(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert files.file_hash(path, "md5") == hashlib.md5(path.read_bytes()).hexdigest()


def test_file_hash_of_a_large_file_reads_in_blocks(tmp_path):
    path = tmp_path / "big.bin"
    data = os.urandom((1 << 20) * 2 + 123)
    path.write_bytes(data)
    assert files.file_hash(path) == hashlib.sha256(data).hexdigest()


def test_file_hash_of_a_directory_depends_on_names_and_contents(tmp_path):
    def make(root, entries):
        for name, text in entries:
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return files.file_hash(root)

    a = make(tmp_path / "a", [("CHEMBL204_Ki.csv", ASPIRIN), ("sub/CHEMBL214_Ki.csv", CAFFEINE)])
    b = make(tmp_path / "b", [("sub/CHEMBL214_Ki.csv", CAFFEINE), ("CHEMBL204_Ki.csv", ASPIRIN)])  # other order
    c = make(tmp_path / "c", [("CHEMBL204_Ki.csv", ASPIRIN), ("sub/CHEMBL214_Ki.csv", ASPIRIN)])  # other content
    d = make(tmp_path / "d", [("CHEMBL205_Ki.csv", ASPIRIN), ("sub/CHEMBL214_Ki.csv", CAFFEINE)])  # other name
    assert a == b
    assert len({a, c, d}) == 3
    assert len(a) == 64


def test_frame_hash_ignores_the_index_but_not_order_or_values():
    frame = pd.DataFrame({"smiles": [ASPIRIN, CAFFEINE], "value": [6.5, 7.0]})
    same = frame.set_axis([5, 9])
    reordered = frame.iloc[::-1]
    changed = frame.assign(value=[6.5, 7.1])
    assert files.frame_hash(frame) == files.frame_hash(same)
    assert files.frame_hash(frame) != files.frame_hash(reordered)
    assert files.frame_hash(frame) != files.frame_hash(changed)
    assert len(files.frame_hash(frame)) == 64


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    import pandas as pd

    from molprior.files import write_csv

    mask = os.umask(0o022)
    try:
        path = write_csv(pd.DataFrame({"a": [1]}), tmp_path / "out.csv")
    finally:
        os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --------------------------------------------------------------------------- output paths

def test_check_output_path_accepts_new_files_and_directories(tmp_path):
    source = tmp_path / "library.csv"
    source.write_text(f"smiles\n{ASPIRIN}\n")
    assert files.check_output_path(tmp_path / "new" / "scores.csv", [source]) == tmp_path / "new" / "scores.csv"
    (tmp_path / "scores.csv").write_text("an earlier result\n")  # replacing an earlier output is fine
    files.check_output_path(tmp_path / "scores.csv", [source])
    files.check_output_path(tmp_path / "out", [source], directory=True, files=("a.csv",))


def test_check_output_path_refuses_a_directory_for_a_file(tmp_path):
    with pytest.raises(files.OutputPathError, match="is a directory; give the name of the file"):
        files.check_output_path(tmp_path, [])


def test_check_output_path_refuses_a_file_for_a_directory_or_a_parent(tmp_path):
    existing = tmp_path / "out.csv"
    existing.write_text("x\n")
    with pytest.raises(files.OutputPathError, match="is an existing file; it must name a directory"):
        files.check_output_path(existing, [], directory=True, files=("a.csv",))
    with pytest.raises(files.OutputPathError, match="is a file, not a directory"):
        files.check_output_path(existing / "sub" / "scores.csv", [])


@pytest.mark.parametrize("spelling", ["same", "relative", "symlink", "hardlink"])
def test_check_output_path_refuses_to_replace_an_input(tmp_path, monkeypatch, spelling):
    source = tmp_path / "library.csv"
    source.write_text(f"smiles\n{ASPIRIN}\n{CAFFEINE}\n")
    monkeypatch.chdir(tmp_path)
    output = {"same": source, "relative": tmp_path / "." / "library.csv", "symlink": tmp_path / "link.csv",
              "hardlink": tmp_path / "hard.csv"}[spelling]
    if spelling == "symlink":
        output.symlink_to(source)
    if spelling == "hardlink":
        os.link(source, output)
    given = "library.csv" if spelling == "relative" else source
    with pytest.raises(files.OutputPathError, match="would replace the input"):
        files.check_output_path(output, [given])
    with pytest.raises(files.OutputPathError, match="would replace the input"):
        files.check_output_path(tmp_path, [given], directory=True, files=(output.name,))
    assert source.read_text() == f"smiles\n{ASPIRIN}\n{CAFFEINE}\n"


def test_verify_manifest_refuses_a_directory_without_one(tmp_path):
    (tmp_path / "model.json").write_text("{}")
    with pytest.raises(files.ChecksumError, match="has no checksums.json"):
        files.verify_manifest(tmp_path)  # required unless a caller only inspects
    assert files.verify_manifest(tmp_path, required=False) is False
    files.write_manifest(tmp_path)
    assert files.verify_manifest(tmp_path, covers=["model.json", "absent.bin"])
    (tmp_path / "weights.bin").write_bytes(b"\0")  # added after the manifest: not covered
    with pytest.raises(files.ChecksumError, match=r"does not list \['weights.bin'\]"):
        files.verify_manifest(tmp_path, covers=["model.json", "weights.bin"])
    (tmp_path / "checksums.json").write_text("[1, 2")
    with pytest.raises(files.ChecksumError, match="checksums.json: corrupt manifest"):
        files.verify_manifest(tmp_path)
