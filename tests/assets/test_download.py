from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import (
    AssetArchiveError,
    AssetCard,
    AssetChecksumError,
    AssetDownloadError,
    AssetOfflineError,
    AssetPathError,
    DirectoryCardSource,
    FetchOptions,
    StandardAssetDownloadManager,
    StandardAssetStore,
)
from tests.assets.http_server import LoopbackServer

WriteCard = Callable[[Path, str], Path]

BODY = bytes(range(256)) * 600  # 150 KiB: several 4 KiB chunks and several read() calls
BODY_SHA = hashlib.sha256(BODY).hexdigest()


def _card(tmp_path: Path, write_card: WriteCard, fields: str, layer: str = "cards") -> AssetCard:
    write_card(tmp_path / layer / "c.yaml", "name: c\n" + textwrap.dedent(fields))
    return StandardAssetStore([DirectoryCardSource("t", tmp_path / layer)]).retrieve_card("c")


def _cache_files(cache: Path) -> list[str]:
    if not cache.exists():
        return []
    return sorted(p.name for p in cache.rglob("*") if p.is_file())


def test_download_is_verified_cached_and_named_by_the_url(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/models/w.bin"] = BODY
    url = server.url("/models/w.bin?token=1")
    card = _card(tmp_path, write_card, f"checkpoint: {url}\ncheckpoint_sha256: {BODY_SHA}\n")

    path = manager.resolve_path(card, "checkpoint")
    assert path.read_bytes() == BODY
    assert path.name == "w.bin"  # never the server's Content-Disposition name
    assert path.is_relative_to(manager.cache_dir.resolve())
    assert not (tmp_path / "evil.txt").exists()
    assert (path.parent / "w.bin.sha256").read_text().split()[0] == BODY_SHA

    assert manager.resolve_path(card, "checkpoint") == path
    assert server.state.full_gets("/models/w.bin") == 1


def test_http_404_fails_at_once_and_leaves_nothing_visible(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    card = _card(tmp_path, write_card, f"checkpoint: {server.url('/missing.bin')}\n")
    with pytest.raises(AssetDownloadError, match="HTTP 404"):
        manager.resolve_path(card, "checkpoint")
    assert len(server.state.requests) == 1
    assert "missing.bin" not in _cache_files(manager.cache_dir)


def test_dropped_connection_resumes_with_range(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    server.state.drop_after["/w.bin"] = 50_000
    server.state.drops_left["/w.bin"] = 1
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    path = manager.resolve_path(card, "checkpoint")
    assert path.read_bytes() == BODY
    assert server.state.requests == [("/w.bin", None), ("/w.bin", "bytes=50000-")]


def test_interrupted_download_is_kept_and_resumed_by_the_next_call(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    server.state.drop_after["/w.bin"] = 10_000
    server.state.drops_left["/w.bin"] = 3  # every attempt of the first call is cut
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    with pytest.raises(AssetDownloadError, match="after 3 attempts"):
        manager.resolve_path(card, "checkpoint")
    assert "w.bin" not in _cache_files(manager.cache_dir)
    assert "w.bin.part" in _cache_files(manager.cache_dir)

    path = manager.resolve_path(card, "checkpoint")
    assert path.read_bytes() == BODY
    assert server.state.requests[-1] == ("/w.bin", "bytes=30000-")
    assert "w.bin.part" not in _cache_files(manager.cache_dir)


def test_server_ignoring_range_restarts_cleanly(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    server.state.drop_after["/w.bin"] = 20_000
    server.state.drops_left["/w.bin"] = 1
    server.state.ignore_range.add("/w.bin")
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    assert manager.resolve_path(card, "checkpoint").read_bytes() == BODY


def test_checksum_mismatch_is_never_visible(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    wrong = hashlib.sha256(b"something else").hexdigest()
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {wrong}\n"
    )
    with pytest.raises(AssetChecksumError) as info:
        manager.resolve_path(card, "checkpoint")
    assert BODY_SHA in str(info.value)
    assert wrong in str(info.value)
    assert "card 'c', field 'checkpoint'" in str(info.value)
    files = _cache_files(manager.cache_dir)
    assert "w.bin" not in files
    assert "w.bin.part" not in files


def test_changed_checksum_in_the_card_triggers_a_fresh_verified_download(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = b"old"
    url = server.url("/w.bin")
    old = _card(tmp_path, write_card, f"checkpoint: {url}\n")
    assert manager.resolve_path(old, "checkpoint").read_bytes() == b"old"
    server.state.files["/w.bin"] = BODY
    new = _card(tmp_path, write_card, f"checkpoint: {url}\ncheckpoint_sha256: {BODY_SHA}\n")
    assert manager.resolve_path(new, "checkpoint").read_bytes() == BODY


def test_offline_mode_uses_only_the_cache(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    fast_options: FetchOptions,
) -> None:
    server.state.files["/w.bin"] = BODY
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    cache = tmp_path / "cache"
    offline = StandardAssetDownloadManager(cache, offline=True, fetch_options=fast_options)
    with pytest.raises(AssetOfflineError, match="SEQKIT_OFFLINE=1"):
        offline.resolve_path(card, "checkpoint")
    assert server.state.requests == []

    online = StandardAssetDownloadManager(cache, fetch_options=fast_options)
    path = online.resolve_path(card, "checkpoint")
    assert offline.resolve_path(card, "checkpoint") == path
    assert len(server.state.requests) == 1


_RACER = """
import sys
from pathlib import Path
from seqkit.assets import DirectoryCardSource, FetchOptions, StandardAssetDownloadManager
from seqkit.assets import StandardAssetStore

cards, cache = Path(sys.argv[1]), Path(sys.argv[2])
card = StandardAssetStore([DirectoryCardSource("t", cards)]).retrieve_card("c")
manager = StandardAssetDownloadManager(cache, fetch_options=FetchOptions(progress=False))
print(manager.resolve_path(card, "checkpoint"))
"""


def test_two_processes_racing_download_once_and_both_succeed(
    tmp_path: Path, write_card: WriteCard, server: LoopbackServer
) -> None:
    server.state.files["/w.bin"] = BODY
    server.state.delay_per_chunk = 0.02  # ~0.8 s per download, so the two overlap
    _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    cache = tmp_path / "cache"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(tmp_path / "cards"), str(cache)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [racer.communicate(timeout=60) for racer in racers]
    for racer, (_out, err) in zip(racers, outputs):
        assert racer.returncode == 0, err
    paths = {Path(out.strip()) for out, _ in outputs}
    assert len(paths) == 1
    assert paths.pop().read_bytes() == BODY
    assert len(server.state.requests) == 1


def _tar_bytes(members: dict[str, bytes], *, escape: bool = False) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if escape:
            info = tarfile.TarInfo("../../../escaped.txt")
            info.size = 1
            tar.addfile(info, io.BytesIO(b"x"))
    return buffer.getvalue()


def test_downloaded_archives_are_extracted_inside_the_cache(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/tok.tar.gz"] = _tar_bytes({"tok/spm.model": b"model", "tok/v.txt": b"v"})
    server.state.files["/evil.tgz"] = _tar_bytes({"ok": b"1"}, escape=True)
    card = _card(
        tmp_path,
        write_card,
        f"tokenizer: {server.url('/tok.tar.gz')}\ndataset: {server.url('/evil.tgz')}\n",
    )
    extracted = manager.resolve_path(card, "tokenizer")
    assert extracted.is_dir()
    assert (extracted / "tok" / "spm.model").read_bytes() == b"model"
    assert manager.resolve_path(card, "tokenizer") == extracted
    assert len(server.state.requests) == 1

    with pytest.raises(AssetArchiveError, match=r"contains '\.\.'"):
        manager.resolve_path(card, "dataset")
    assert not list(tmp_path.rglob("escaped.txt"))
    assert not list(manager.cache_dir.rglob("extracted/ok"))


def test_local_paths_resolve_against_the_file_that_wrote_them(
    tmp_path: Path, write_card: WriteCard, manager: StandardAssetDownloadManager
) -> None:
    (tmp_path / "pkg" / "weights").mkdir(parents=True)
    (tmp_path / "pkg" / "weights" / "w.pt").write_bytes(b"pkg")
    (tmp_path / "usr").mkdir()
    (tmp_path / "usr" / "mine.pt").write_bytes(b"user")
    write_card(tmp_path / "pkg" / "c.yaml", "name: c\ncheckpoint: weights/w.pt\ntokenizer: t\n")
    write_card(tmp_path / "usr" / "c.yaml", "name: c\ntokenizer: mine.pt\n")
    store = StandardAssetStore(
        [
            DirectoryCardSource("package", tmp_path / "pkg"),
            DirectoryCardSource("user", tmp_path / "usr"),
        ]
    )
    card = store.retrieve_card("c")
    assert manager.resolve_path(card, "checkpoint") == (tmp_path / "pkg" / "weights" / "w.pt")
    assert manager.resolve_path(card, "tokenizer") == (tmp_path / "usr" / "mine.pt")
    assert not manager.cache_dir.exists()  # local files are never copied


def test_file_uris_absolute_paths_and_local_checksums(
    tmp_path: Path, write_card: WriteCard, manager: StandardAssetDownloadManager
) -> None:
    target = tmp_path / "data" / "w.bin"
    target.parent.mkdir()
    target.write_bytes(BODY)
    bad_sha = "f" * 64
    card = _card(
        tmp_path,
        write_card,
        f"""
        checkpoint: file://{target}
        checkpoint_sha256: {BODY_SHA}
        dataset: {target}
        dataset_sha256: {bad_sha}
        tokenizer: file://otherhost{target}
        """,
    )
    assert manager.resolve_path(card, "checkpoint") == target
    with pytest.raises(AssetChecksumError, match="corrupt or the card's 'dataset_sha256'"):
        manager.resolve_path(card, "dataset")
    with pytest.raises(Exception, match="must be local"):
        manager.resolve_path(card, "tokenizer")


def test_relative_paths_cannot_escape_the_card_directory(
    tmp_path: Path, write_card: WriteCard, manager: StandardAssetDownloadManager
) -> None:
    (tmp_path / "secret.txt").write_text("s")
    (tmp_path / "cards" / "sub").mkdir(parents=True)
    (tmp_path / "cards" / "sub" / "link").symlink_to(tmp_path / "secret.txt")
    card = _card(
        tmp_path,
        write_card,
        "checkpoint: ../secret.txt\ndataset: sub/link\ntokenizer: sub/missing.model\n",
    )
    with pytest.raises(AssetPathError, match="outside"):
        manager.resolve_path(card, "checkpoint")
    with pytest.raises(AssetPathError, match="outside"):  # symlinks are resolved first
        manager.resolve_path(card, "dataset")
    with pytest.raises(AssetPathError, match="does not exist") as info:
        manager.resolve_path(card, "tokenizer")
    assert f"{tmp_path / 'cards' / 'c.yaml'}:4" in str(info.value)


def test_hostile_url_paths_stay_inside_the_cache(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/a/%2E%2E/%2E%2E/.bashrc"] = b"rc"
    card = _card(tmp_path, write_card, f"checkpoint: {server.url('/a/%2E%2E/%2E%2E/.bashrc')}\n")
    path = manager.resolve_path(card, "checkpoint")
    assert path.is_relative_to(manager.cache_dir.resolve())
    assert path.name == "bashrc"
    assert path.read_bytes() == b"rc"


def test_stale_partial_file_is_discarded_when_the_checksum_fails(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    url = server.url("/w.bin")
    card = _card(tmp_path, write_card, f"checkpoint: {url}\ncheckpoint_sha256: {BODY_SHA}\n")
    # A leftover from an older version of the file: resuming it gives the wrong bytes.
    entry = manager.cache_dir / hashlib.sha256(url.encode()).hexdigest()[:20]
    entry.mkdir(parents=True)
    (entry / "w.bin.part").write_bytes(b"X" * 1000)
    path = manager.resolve_path(card, "checkpoint")
    assert path.read_bytes() == BODY
    assert server.state.requests == [("/w.bin", "bytes=1000-"), ("/w.bin", None)]
