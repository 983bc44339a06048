"""Fetching a publisher's archive, served from a local file or a loopback HTTP server only."""

from __future__ import annotations

import functools
import hashlib
import http.server
import shutil
import tarfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from conftest import require_data
from data_helpers import TinySet, write_tiny_set

from jointsr.data.datasets import CAVE, DatasetNotFoundError
from jointsr.data.download import ChecksumError, extract_archive, fetch_archive


def _zip_folder(folder: Path, archive: Path, prefix: str = "") -> str:
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sorted(folder.rglob("*")):
            bundle.write(path, prefix + path.relative_to(folder).as_posix())
    return hashlib.sha256(archive.read_bytes()).hexdigest()


@pytest.fixture
def tiny_archive(tmp_path):
    """A zip of the tiny dataset under a single top folder (as ``nirscene1.zip``) and its sha256."""
    write_tiny_set(tmp_path / "source")
    archive = tmp_path / "served" / "tiny.zip"
    archive.parent.mkdir()
    return archive, _zip_folder(tmp_path / "source", archive, prefix="tiny_v1/")


@pytest.fixture
def loopback_server(tmp_path):
    """An HTTP server on 127.0.0.1 serving ``tmp_path/served`` from a thread."""
    (tmp_path / "served").mkdir(exist_ok=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "served"))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _leftovers(folder: Path) -> list[Path]:
    if not folder.exists():  # a failed fetch removes the folders it created
        return []
    return [p for p in folder.iterdir() if ".download-" in p.name]


def test_fetch_from_a_file_url_verifies_and_unpacks(tiny_archive, tmp_path):
    archive, digest = tiny_archive
    root = tmp_path / "data" / "tiny"
    fetch_archive(archive.as_uri(), root, sha256=digest, progress=False)
    assert sorted(p.name for p in root.iterdir())[:2] == ["a_g.png", "a_t.png"]  # top folder removed
    assert TinySet(root).is_available() and not _leftovers(root.parent)


def test_dataset_downloads_from_a_loopback_server_when_missing(tiny_archive, loopback_server, tmp_path):
    archive, digest = tiny_archive
    dataset = TinySet(tmp_path / "data" / "tiny", archive_url=f"{loopback_server}/{archive.name}",
                      archive_sha256=digest)
    assert not dataset.is_available()
    dataset.ensure_available()
    target, guide = dataset.load("a")
    assert target.shape == (64, 72) and guide.shape == (64, 72, 3)


def test_checksum_mismatch_is_a_clear_error_and_leaves_nothing(tiny_archive, loopback_server, tmp_path):
    archive, _ = tiny_archive
    root = tmp_path / "data" / "tiny"
    with pytest.raises(ChecksumError, match=f"checksum mismatch for .*{archive.name}: expected sha256 0{{64}}"):
        fetch_archive(f"{loopback_server}/{archive.name}", root, sha256="0" * 64, progress=False)
    assert not root.exists() and not _leftovers(root.parent)
    dataset = TinySet(root, archive_url=archive.as_uri(), archive_sha256="f" * 64)
    with pytest.raises(ChecksumError):
        dataset.ensure_available()
    assert not root.exists() and not _leftovers(root.parent)


def test_no_published_checksum_logs_the_digest(tiny_archive, tmp_path, caplog):
    archive, digest = tiny_archive
    fetch_archive(archive.as_uri(), tmp_path / "data" / "tiny", progress=False)
    assert digest in caplog.text and "archive_sha256" in caplog.text


def test_a_broken_archive_leaves_nothing(tmp_path):
    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"not an archive")
    with pytest.raises(OSError, match="neither a zip nor a tar"):
        fetch_archive(bad.as_uri(), tmp_path / "data" / "tiny", progress=False)
    assert not (tmp_path / "data").exists()  # the folders this call created are gone again


def test_unreachable_publisher_names_the_fix_and_leaves_nothing(tmp_path):
    """No network (here: a closed loopback port) -> one error saying where data is looked for."""
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (tmp_path / "data").mkdir()
    root = tmp_path / "data" / "nested" / "tiny"
    with pytest.raises(DatasetNotFoundError, match=r"JOINTSR_DATA_DIR(.|\n)*URLError"):
        TinySet(root, archive_url=f"http://127.0.0.1:{port}/tiny.zip").ensure_available()
    assert list((tmp_path / "data").iterdir()) == []


def test_never_downloads_into_a_folder_with_other_files(tiny_archive, tmp_path):
    archive, digest = tiny_archive
    root = tmp_path / "data" / "tiny"
    root.mkdir(parents=True)
    (root / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        fetch_archive(archive.as_uri(), root, sha256=digest, progress=False)
    with pytest.raises(DatasetNotFoundError, match="only into a missing or empty folder"):
        TinySet(root, archive_url=archive.as_uri()).ensure_available()
    assert [p.name for p in root.iterdir()] == ["notes.txt"]


def test_tar_archives_and_unsafe_paths(tmp_path):
    write_tiny_set(tmp_path / "source")
    archive = tmp_path / "tiny.tar.gz"
    with tarfile.open(archive, "w:gz") as bundle:
        bundle.add(tmp_path / "source", arcname="tiny")
    fetch_archive(archive.as_uri(), tmp_path / "data" / "tiny", progress=False)
    assert TinySet(tmp_path / "data" / "tiny").is_available()
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as bundle:
        bundle.writestr("../outside.txt", "x")
    with pytest.raises(OSError, match="outside the folder"):
        extract_archive(evil, tmp_path / "unpacked", progress=False)
    assert not (tmp_path / "outside.txt").exists()


def test_cave_archive_layout_downloaded_and_loaded(tmp_path):
    """A miniature ``complete_ms_data.zip``: ``<scene>_ms/<scene>_ms/<scene>_ms_NN.png``."""
    source = require_data("cave", "balloons")
    tree = tmp_path / "tree" / "balloons_ms" / "balloons_ms"
    tree.mkdir(parents=True)
    for band in (24, 25):
        shutil.copy(source / "balloons_ms_25.png", tree / f"balloons_ms_{band:02d}.png")
    shutil.copy(source / "balloons_RGB.bmp", tree / "balloons_RGB.bmp")
    (tmp_path / "tree" / "beads_ms").mkdir()  # a second scene folder: no top folder to remove
    archive = tmp_path / "complete_ms_data.zip"
    digest = _zip_folder(tmp_path / "tree", archive)
    dataset = CAVE(tmp_path / "data" / "cave", band=24, splits={"train": ["balloons"]},
                   archive_url=archive.as_uri(), archive_sha256=digest)
    dataset.ensure_available()
    assert dataset.files("balloons")[0] == tmp_path / "data/cave/balloons_ms/balloons_ms/balloons_ms_24.png"
    target, _ = dataset.load("balloons")
    np.testing.assert_array_equal(target, CAVE(source.parent).load("balloons")[0])
