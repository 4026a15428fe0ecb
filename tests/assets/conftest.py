from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from seqkit.assets import FetchOptions, StandardAssetDownloadManager
from tests.assets.http_server import LoopbackServer


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def write_card() -> Callable[[Path, str], Path]:
    """Write dedented YAML text to a path (creating folders) and return the path."""

    def write(path: Path, text: str) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
        return path

    return write


@pytest.fixture
def fast_options() -> FetchOptions:
    return FetchOptions(timeout=10.0, max_attempts=3, retry_delay=0.0, progress=False)


@pytest.fixture
def manager(tmp_path: Path, fast_options: FetchOptions) -> StandardAssetDownloadManager:
    return StandardAssetDownloadManager(tmp_path / "cache", fetch_options=fast_options)
