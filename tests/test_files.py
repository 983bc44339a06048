"""jointsr.files: every atomic write leaves the old file or the whole new one, and no temporary file."""

from __future__ import annotations

import json

import pytest

from jointsr.files import (
    atomic_path,
    write_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)


def test_the_writers_write_what_they_are_given(tmp_path):
    assert write_text_atomic(tmp_path / "a" / "b.txt", "two\nlines\n").read_text() == "two\nlines\n"
    path = write_json_atomic(tmp_path / "doc.json", {"psnr": 30.5, "none": None, "nan": float("nan")})
    assert path.read_text() == '{\n  "psnr": 30.5,\n  "none": null,\n  "nan": NaN\n}\n'
    assert write_json_atomic(tmp_path / "one.json", {"b": 1, "a": [2]}, indent=1, sort_keys=True).read_text() \
        == '{\n "a": [\n  2\n ],\n "b": 1\n}\n'
    rows = [{"step": 1, "psnr": 30.0}, {"step": 2}]
    assert write_csv_atomic(tmp_path / "t.csv", rows, ["step", "psnr"]).read_bytes() == b"step,psnr\r\n1,30.0\r\n2,\r\n"
    assert write_atomic(tmp_path / "raw.bin", lambda stream: stream.write(b"\x00\x01"), binary=True).read_bytes() \
        == b"\x00\x01"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "doc.json", "one.json", "raw.bin", "t.csv"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    path = write_text_atomic(tmp_path / "result.json", json.dumps({"old": True}))

    def half_then_full_disk(stream) -> None:
        stream.write('{"new": ')
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, half_then_full_disk)
    assert json.loads(path.read_text()) == {"old": True}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]


def test_a_writer_by_name_gets_a_hidden_unique_partial_beside_the_target(tmp_path):
    target = tmp_path / "store.h5"
    with atomic_path(target) as first, atomic_path(target) as second:
        assert first != second and first.parent == second.parent == tmp_path
        assert first.name.startswith(".store.h5.") and first.name.endswith(".partial")
        first.write_bytes(b"first")
        second.write_bytes(b"second")
    assert target.read_bytes() == b"first"  # the outer block ends last: its file wins
    with pytest.raises(ValueError, match="refused"):
        with atomic_path(target) as partial:
            partial.write_bytes(b"never seen")
            raise ValueError("refused")
    assert target.read_bytes() == b"first" and [p.name for p in tmp_path.iterdir()] == ["store.h5"]


def test_a_folder_moved_into_place_replaces_a_missing_one_or_is_removed(tmp_path):
    root = tmp_path / "data"
    with atomic_path(root) as partial:
        (partial / "scene").mkdir(parents=True)
        (partial / "scene" / "a.png").write_bytes(b"png")
    assert (root / "scene" / "a.png").read_bytes() == b"png"
    with pytest.raises(RuntimeError, match="unpacking failed"):
        with atomic_path(tmp_path / "other") as partial:
            (partial / "half").mkdir(parents=True)
            raise RuntimeError("unpacking failed")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]
