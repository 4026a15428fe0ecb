"""A cached download altered after verification is never used as if it were verified."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import (
    AssetCard,
    AssetChecksumError,
    DirectoryCardSource,
    FetchOptions,
    StandardAssetDownloadManager,
    StandardAssetStore,
)
from seqkit.cli.main import main
from seqkit.composition import create_container
from tests.assets.http_server import LoopbackServer

WriteCard = Callable[[Path, str], Path]

BODY = bytes(range(256)) * 64
BODY_SHA = hashlib.sha256(BODY).hexdigest()


def _card(tmp_path: Path, write_card: WriteCard, fields: str) -> AssetCard:
    write_card(tmp_path / "cards" / "c.yaml", "name: c\n" + textwrap.dedent(fields))
    return StandardAssetStore([DirectoryCardSource("t", tmp_path / "cards")]).retrieve_card("c")


def _tamper(path: Path, *, keep_stamp: bool) -> None:
    """Flip bytes in place; ``keep_stamp`` also restores the size and mtime_ns."""
    before = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    if keep_stamp:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    else:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))


def test_altered_cached_file_is_hashed_again_and_replaced(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    path = manager.resolve_path(card, "checkpoint")
    assert path.read_bytes() == BODY
    _tamper(path, keep_stamp=False)
    assert manager.resolve_path(card, "checkpoint") == path
    assert path.read_bytes() == BODY  # the altered copy was refused and fetched again
    assert server.state.full_gets("/w.bin") == 2
    # Unchanged since: the stamp spares a re-hash and a download.
    assert manager.resolve_path(card, "checkpoint") == path
    assert server.state.full_gets("/w.bin") == 2


def test_verify_catches_an_alteration_that_kept_size_and_mtime(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    server.state.files["/w.bin"] = BODY
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    path = manager.resolve_path(card, "checkpoint")
    _tamper(path, keep_stamp=True)
    path = manager.resolve_path(card, "checkpoint", verify=True)
    assert path.read_bytes() == BODY
    assert server.state.full_gets("/w.bin") == 2


def test_offline_use_of_an_altered_cached_file_is_a_checksum_error(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
    fast_options: FetchOptions,
) -> None:
    server.state.files["/w.bin"] = BODY
    card = _card(
        tmp_path, write_card, f"checkpoint: {server.url('/w.bin')}\ncheckpoint_sha256: {BODY_SHA}\n"
    )
    path = manager.resolve_path(card, "checkpoint")
    _tamper(path, keep_stamp=False)
    offline = StandardAssetDownloadManager(
        manager.cache_dir, offline=True, fetch_options=fast_options
    )
    with pytest.raises(AssetChecksumError, match="altered after it was verified"):
        offline.resolve_path(card, "checkpoint")
    assert server.state.full_gets("/w.bin") == 1


def test_altered_extracted_archive_is_extracted_again(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    manager: StandardAssetDownloadManager,
) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("tok/spm.model")
        info.size = len(BODY)
        tar.addfile(info, io.BytesIO(BODY))
    archive = buffer.getvalue()
    server.state.files["/tok.tar.gz"] = archive
    sha = hashlib.sha256(archive).hexdigest()
    card = _card(
        tmp_path, write_card, f"tokenizer: {server.url('/tok.tar.gz')}\ntokenizer_sha256: {sha}\n"
    )
    extracted = manager.resolve_path(card, "tokenizer")
    model = extracted / "tok" / "spm.model"
    _tamper(model, keep_stamp=False)
    (extracted / "tok" / "planted.py").write_text("print('hi')\n")
    assert manager.resolve_path(card, "tokenizer") == extracted
    assert model.read_bytes() == BODY
    assert not (extracted / "tok" / "planted.py").exists()
    # Same size and mtime: only --verify notices, by extracting again.
    _tamper(model, keep_stamp=True)
    manager.resolve_path(card, "tokenizer", verify=True)
    assert model.read_bytes() == BODY
    assert server.state.full_gets("/tok.tar.gz") == 1


def test_directory_checkpoint_with_a_sha256_is_refused(
    tmp_path: Path, write_card: WriteCard, manager: StandardAssetDownloadManager
) -> None:
    checkpoint = tmp_path / "cards" / "ckpt"
    checkpoint.mkdir(parents=True)
    (checkpoint / "model.safetensors").write_bytes(b"x")
    card = _card(tmp_path, write_card, f"checkpoint: ckpt\ncheckpoint_sha256: {BODY_SHA}\n")
    with pytest.raises(AssetChecksumError, match="a directory cannot carry 'checkpoint_sha256'"):
        manager.resolve_path(card, "checkpoint")
    plain = _card(tmp_path, write_card, "checkpoint: ckpt\n")
    assert manager.resolve_path(plain, "checkpoint") == checkpoint


def test_cli_download_verify_reports_and_repairs(
    tmp_path: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("SEQKIT_ASSET_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)
    monkeypatch.delenv("SEQKIT_ASSET_ENV", raising=False)
    server.state.files["/w.bin"] = BODY
    write_card(
        tmp_path / "system" / "m.yaml",
        f"name: m\nkind: other\nweights: {server.url('/w.bin')}\nweights_sha256: {BODY_SHA}\n",
    )

    def download(*extra: str) -> Path:
        container = create_container(load_extension_points=False)
        assert main(["assets", "download", "m", *extra], container=container) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("m.weights"))
        assert line.endswith(" (sha256 OK)")
        return Path(line.split(": ", 1)[1].rsplit(" (", 1)[0])

    path = download()
    _tamper(path, keep_stamp=True)
    assert download("--verify").read_bytes() == BODY
    assert server.state.full_gets("/w.bin") == 2
