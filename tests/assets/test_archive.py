from __future__ import annotations

import io
import stat
import tarfile
import zipfile
from pathlib import Path

import pytest

from seqkit.assets import AssetArchiveError, extract_archive


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz" if path.name.endswith("gz") else "w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
            else:
                tar.addfile(info)
    return path


def _file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_benign_tar_and_zip_extract(tmp_path: Path) -> None:
    archive = _tar(
        tmp_path / "ok.tar.gz",
        [(_file("model/weights.bin"), b"w" * 10), (_link("model/alias", "weights.bin"), None)],
    )
    out = tmp_path / "out"
    out.mkdir()
    extract_archive(archive, out)
    assert (out / "model" / "weights.bin").read_bytes() == b"w" * 10
    assert (out / "model" / "alias").resolve() == (out / "model" / "weights.bin").resolve()

    zpath = tmp_path / "ok.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("dir/a.txt", "hello")
    zout = tmp_path / "zout"
    zout.mkdir()
    extract_archive(zpath, zout)
    assert (zout / "dir" / "a.txt").read_text() == "hello"


@pytest.mark.parametrize(
    ("member", "message"),
    [
        ((_file("../escape.txt"), b"x"), "contains '..'"),
        ((_file("a/../../escape.txt"), b"x"), "contains '..'"),
        ((_file("/tmp/seqkit-abs.txt"), b"x"), "absolute path"),
        ((_link("evil", "/etc/passwd"), None), "absolute path"),
        ((_link("evil", "../../outside"), None), "escapes"),
        ((_link("evil", "../outside", tarfile.LNKTYPE), None), "escapes"),
    ],
)
def test_malicious_tar_members_are_refused(
    tmp_path: Path, member: tuple[tarfile.TarInfo, bytes | None], message: str
) -> None:
    archive = _tar(tmp_path / "evil.tar", [(_file("fine.txt"), b"ok"), member])
    out = tmp_path / "deep" / "out"
    out.mkdir(parents=True)
    with pytest.raises(AssetArchiveError, match=message):
        extract_archive(archive, out)
    # Checks run before anything is written.
    assert list(out.iterdir()) == []
    assert not (tmp_path / "deep" / "escape.txt").exists()
    assert not (tmp_path / "escape.txt").exists()


def test_symlink_then_file_through_it_is_refused(tmp_path: Path) -> None:
    # Classic two-step escape: a symlink to the outside, then a file written "inside" it.
    archive = _tar(
        tmp_path / "evil.tar",
        [(_link("door", str(tmp_path)), None), (_file("door/pwned.txt"), b"x")],
    )
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError):
        extract_archive(archive, out)
    assert not (tmp_path / "pwned.txt").exists()


def test_device_members_are_refused(tmp_path: Path) -> None:
    fifo = tarfile.TarInfo("pipe")
    fifo.type = tarfile.FIFOTYPE
    archive = _tar(tmp_path / "evil.tar", [(fifo, None)])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match="device or FIFO"):
        extract_archive(archive, out)


@pytest.mark.parametrize(
    ("name", "message"),
    [("../zip-escape.txt", "contains '..'"), ("/tmp/zip-abs.txt", "absolute path")],
)
def test_malicious_zip_names_are_refused(tmp_path: Path, name: str, message: str) -> None:
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr(zipfile.ZipInfo(name), "bad")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match=message):
        extract_archive(zpath, out)
    assert list(out.iterdir()) == []
    assert not (tmp_path / "zip-escape.txt").exists()


def test_zip_symlinks_are_refused(tmp_path: Path) -> None:
    zpath = tmp_path / "link.zip"
    info = zipfile.ZipInfo("link")
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr(info, "/etc/passwd")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match="symlink"):
        extract_archive(zpath, out)


def test_corrupt_archive_is_an_asset_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(AssetArchiveError, match="cannot extract"):
        extract_archive(bad, out)


def _zeros_zip(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", bytes(size))
    return path


def test_decompression_bombs_are_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    size = 20 * 1024 * 1024  # deflates ~1000x: far past the default limit of 200x
    bomb = _zeros_zip(tmp_path / "bomb.zip", size)
    gz_bomb = _tar(tmp_path / "bomb.tar.gz", [(_file("zeros.bin"), bytes(size))])
    for archive in (bomb, gz_bomb):
        out = tmp_path / f"out-{archive.name}"
        out.mkdir()
        with pytest.raises(AssetArchiveError, match="likely decompression bomb") as err:
            extract_archive(archive, out)
        assert "SEQKIT_MAX_ARCHIVE_EXPANSION" in str(err.value)
        assert list(out.iterdir()) == []
    # A trusted archive: the limit raised by the caller or through the environment.
    out = tmp_path / "trusted"
    out.mkdir()
    extract_archive(bomb, out, max_expansion=None)
    assert (out / "zeros.bin").stat().st_size == size
    monkeypatch.setenv("SEQKIT_MAX_ARCHIVE_EXPANSION", "0")
    again = tmp_path / "env"
    again.mkdir()
    extract_archive(gz_bomb, again)
    assert (again / "zeros.bin").stat().st_size == size
    monkeypatch.setenv("SEQKIT_MAX_ARCHIVE_EXPANSION", "lots")
    with pytest.raises(AssetArchiveError, match="is not a number"):
        extract_archive(bomb, again)


def test_small_archives_are_not_checked_for_expansion(tmp_path: Path) -> None:
    archive = _zeros_zip(tmp_path / "small.zip", 1024 * 1024)  # 1000x, but only 1 MiB
    out = tmp_path / "out"
    out.mkdir()
    extract_archive(archive, out)
    assert (out / "zeros.bin").read_bytes() == bytes(1024 * 1024)
