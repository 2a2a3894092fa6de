"""The one atomic writer: text or bytes, synced, the file's mode kept, nothing left over."""

import os
import stat

import pytest

from labpath import fsutil


def test_text_and_bytes_replace_the_file_whole(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    fsutil.atomic_write(path, "one\n")
    assert path.read_bytes() == b"one\n"
    fsutil.atomic_write(path, b"\x00\xff")
    assert path.read_bytes() == b"\x00\xff"
    fsutil.atomic_write(path, "cache", cache=True)
    assert path.read_text() == "cache"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_the_replaced_file_keeps_its_mode_and_a_given_mode_wins(tmp_path):
    path = tmp_path / "f"
    path.write_text("old")
    path.chmod(0o600)
    fsutil.atomic_write(path, "new")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    fsutil.atomic_write(tmp_path / "g", b"x", mode=0o640)
    assert stat.S_IMODE((tmp_path / "g").stat().st_mode) == 0o640


def test_the_file_and_its_folder_are_synced_unless_it_is_a_cache(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def fsync(fd):
        synced.append(stat.S_ISDIR(os.fstat(fd).st_mode))
        real(fd)

    monkeypatch.setattr(fsutil.os, "fsync", fsync)
    fsutil.atomic_write(tmp_path / "data", "x")
    assert synced == [False, True]
    synced.clear()
    fsutil.atomic_write(tmp_path / "cache", b"x", cache=True)
    assert synced == [False]


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "d" / "f"
    path.parent.mkdir()
    path.write_text("old")

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        fsutil.atomic_write(path, "new")
    assert path.read_text() == "old"
    assert [p.name for p in path.parent.iterdir()] == ["f"]


def test_fresh_files_are_new_private_and_never_shared(tmp_path):
    from labpath.fsutil import fresh_file

    made = [fresh_file(tmp_path, ".entry-", ".tmp") for _ in range(50)]
    names = {p for _, p in made}
    assert len(names) == 50
    for fd, p in made:
        os.close(fd)
        assert os.path.dirname(p) == str(tmp_path)
        name = os.path.basename(p)
        assert name.startswith(".entry-") and name.endswith(".tmp")
        assert os.stat(p).st_mode & 0o777 == 0o600 and os.path.getsize(p) == 0
