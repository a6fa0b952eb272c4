import os

import pytest

from deltanet.errors import DataError
from deltanet.files import (
    atomic_write_bytes,
    atomic_write_text,
    open_regular,
    remove_stale_temp_files,
    write_json,
)


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f"
    atomic_write_bytes(path, b"old")

    def boom(fd):
        raise OSError("disk full")

    monkeypatch.setattr("os.fsync", boom)
    with pytest.raises(OSError, match="disk full"):
        atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temporary file left behind


def test_atomic_writes_give_the_usual_permissions(tmp_path):
    atomic_write_text(tmp_path / "t.txt", "hello")
    write_json(tmp_path / "j.json", {"a": 1})
    mask = os.umask(0)
    os.umask(mask)
    for name in ("t.txt", "j.json"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "j.json").read_text() == '{\n  "a": 1\n}\n'


def test_stale_temporary_files_are_removed_and_only_ours(tmp_path):
    (tmp_path / ".model.safetensors.x1y2.tmp").write_bytes(b"half")
    (tmp_path / "keep.tmp").write_bytes(b"not ours: not hidden")
    (tmp_path / ".important.tmp").write_bytes(b"not ours: not a name we write")
    (tmp_path / "model.safetensors").write_bytes(b"whole")
    removed = remove_stale_temp_files(tmp_path, ["model.safetensors", "config.json"])
    assert [p.name for p in removed] == [".model.safetensors.x1y2.tmp"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".important.tmp",
        "keep.tmp",
        "model.safetensors",
    ]


def test_open_regular_refuses_what_is_not_a_regular_file(tmp_path):
    (tmp_path / "f").write_bytes(b"x")
    with open_regular(tmp_path / "f") as fh:
        assert fh.read() == b"x"
    for name, message in [
        (tmp_path / "missing", "no such file"),
        (tmp_path / "f" / "below", "no such file"),
        (tmp_path, "is a folder"),
        ("/dev/zero", "not a regular file"),
    ]:
        with pytest.raises(DataError, match=message):
            open_regular(name, DataError)


def test_a_named_pipe_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match="not a regular file"):
        open_regular(fifo, DataError)  # opening it for reading would wait for a writer


def test_a_place_that_cannot_be_written_is_a_users_mistake(tmp_path):
    from deltanet.errors import UserError

    (tmp_path / "file").write_text("x")
    (tmp_path / "folder").mkdir()
    for path, message in [
        (tmp_path / "file" / "below.md", "cannot be written"),
        (tmp_path / "folder", "is a folder"),
    ]:
        with pytest.raises(UserError, match=message):
            atomic_write_text(path, "table")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder"]
    assert list((tmp_path / "folder").iterdir()) == []
