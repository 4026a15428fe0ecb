"""Links in downloaded archives can never make extraction write outside its folder."""

from __future__ import annotations

import io
import os
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import (
    AssetArchiveError,
    DirectoryCardSource,
    StandardAssetDownloadManager,
    StandardAssetStore,
    extract_archive,
)
from tests.assets.http_server import LoopbackServer

WriteCard = Callable[[Path, str], Path]

PAYLOAD = "PWNED-BY-ARCHIVE"


def _symlink(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


def _directory(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


def path_max_escape_tar(ups: int) -> bytes:
    """The CVE-2025-4517 shape: a chain of one-letter links to 247-character folders,
    longer than PATH_MAX once resolved, a link at its end back to the top, and
    ``escape -> <chain>/l/../..`` followed by ``escape/PAYLOAD``."""
    component = "d" * 247
    steps = "abcdefghijklmnopqr"  # 18 x 248 characters > PATH_MAX (4096)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        path = ""
        for step in steps:
            tar.addfile(_directory(os.path.join(path, component)))
            tar.addfile(_symlink(os.path.join(path, step), component))
            path = os.path.join(path, step)
        chain = os.path.join(*steps)
        tar.addfile(_symlink(chain + "/l", "../" * len(steps)))
        tar.addfile(_symlink("escape", chain + "/l" + "/.." * ups))
        data = b"written outside the cache"
        info = tarfile.TarInfo(f"escape/{PAYLOAD}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _payloads(root: Path) -> list[str]:
    found = []
    for folder, _, files in os.walk(root):  # never follows links
        found += [os.path.join(folder, f) for f in files if f == PAYLOAD]
    return found


def test_path_max_symlink_chain_cannot_write_outside_the_cache(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    # Three levels up from the extraction folder (cache/<entry>/.extract-*) is tmp_path.
    server.state.files["/poc.tar"] = path_max_escape_tar(ups=3)
    write_card(
        tmp_path / "cards" / "c.yaml",
        textwrap.dedent(f"name: c\ndataset: {server.url('/poc.tar')}\n"),
    )
    card = StandardAssetStore([DirectoryCardSource("t", tmp_path / "cards")]).retrieve_card("c")
    with pytest.raises(AssetArchiveError) as info:
        manager.resolve_path(card, "dataset")
    message = str(info.value)
    assert "poc.tar" in message
    assert "member 'a/ddd" in message
    assert "through the link 'a'" in message
    assert _payloads(tmp_path) == []
    assert not list(manager.cache_dir.rglob("extracted"))


def test_link_escaping_only_on_the_real_filesystem_is_refused(tmp_path: Path) -> None:
    # Lexically `q -> d1/p/..` stays inside; on disk d1/p is the root, so q is its parent.
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(_directory("d1"))
        tar.addfile(_symlink("d1/p", ".."))
        tar.addfile(_symlink("q", "d1/p/.."))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match=r"link 'q' -> 'd1/p/\.\.' resolves to .*outside"):
        extract_archive(archive, out)


def test_dangling_and_looping_links_are_refused(tmp_path: Path) -> None:
    for name, members in {
        "dangling": [_symlink("x", "missing")],
        "loop": [_symlink("x", "y"), _symlink("y", "x")],
    }.items():
        archive = tmp_path / f"{name}.tar"
        with tarfile.open(archive, "w") as tar:
            for member in members:
                tar.addfile(member)
        out = tmp_path / name
        out.mkdir()
        with pytest.raises(AssetArchiveError, match="does not resolve to a file of the archive"):
            extract_archive(archive, out)


def test_a_member_below_a_link_member_is_refused_before_writing(tmp_path: Path) -> None:
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        tar.addfile(_directory("sub"))
        tar.addfile(_symlink("alias", "sub"))
        info = tarfile.TarInfo("alias/file.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match=r"'alias/file\.txt' would be written through"):
        extract_archive(archive, out)
    assert list(out.iterdir()) == []


def test_inside_links_and_hard_links_still_extract(tmp_path: Path) -> None:
    archive = tmp_path / "ok.tar"
    with tarfile.open(archive, "w") as tar:
        data = b"weights"
        info = tarfile.TarInfo("m/w.bin")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        hard = tarfile.TarInfo("m/w2.bin")
        hard.type = tarfile.LNKTYPE
        hard.linkname = "m/w.bin"
        tar.addfile(hard)
        tar.addfile(_symlink("latest", "m"))
        tar.addfile(_symlink("m/alias", "../m/w.bin"))
    out = tmp_path / "out"
    out.mkdir()
    extract_archive(archive, out)
    assert (out / "m" / "w2.bin").read_bytes() == b"weights"
    assert (out / "latest" / "alias").read_bytes() == b"weights"
    assert (out / "latest").is_symlink()
