"""Hugging Face repo ids (``ORG/NAME[@REVISION]``) resolved from the local hub cache
(the ``HF_HUB_CACHE`` / ``HF_HOME`` layout), downloaded into it when allowed."""

from __future__ import annotations

import os
import re
from pathlib import Path

from seqkit.errors import SeqkitError

_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*(@[\w./-]+)?$")
_DOWNLOAD_PATTERNS = (
    "*.json",
    "*.safetensors",
    "*.jinja",
    "*.model",
    "*.txt",
    "tokenizer*",
)


class HubCacheError(SeqkitError, FileNotFoundError):
    """A Hugging Face repo id is not in the local hub cache and cannot be downloaded."""

    def __init__(self, repo_id: str, cache_dir: Path, reason: str) -> None:
        self.repo_id = repo_id
        self.cache_dir = cache_dir
        super().__init__(
            f"Hugging Face repo {repo_id!r} is not in the hub cache {cache_dir} ({reason}). "
            f"Download it where there is network (`hf download {repo_id.split('@')[0]}`, with "
            "HF_HOME or HF_HUB_CACHE pointing at this cache), or pass a local directory."
        )


def looks_like_repo_id(name: str | Path) -> bool:
    """Whether ``name`` reads as ``ORG/NAME`` (optionally ``@REVISION``) and is no local path."""
    if isinstance(name, Path):
        return False
    text = str(name)
    if not _REPO_ID.match(text) or text.endswith((".yaml", ".yml")):
        return False
    return not Path(text).expanduser().exists()


def hub_cache_dir() -> Path:
    """The HF hub cache: ``HF_HUB_CACHE``, else ``HF_HOME/hub``, else
    ``$XDG_CACHE_HOME/huggingface/hub`` (``~/.cache/huggingface/hub``)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _cached_snapshot(repo: str, revision: str, cache: Path) -> Path | None:
    root = cache / ("models--" + repo.replace("/", "--"))
    ref = root / "refs" / revision
    commit = revision
    if ref.is_file():
        commit = ref.read_text(encoding="utf-8").strip()
    snapshot = root / "snapshots" / commit
    return snapshot if snapshot.is_dir() else None


def _offline() -> bool:
    value = os.environ.get("HF_HUB_OFFLINE", "") or os.environ.get("TRANSFORMERS_OFFLINE", "")
    return value.strip().lower() in ("1", "true", "yes", "on")


def resolve_hf_repo(repo_id: str) -> Path:
    """The local snapshot directory of HF repo ``ORG/NAME[@REVISION]`` (default ``main``).

    It is read from the hub cache (``models--ORG--NAME/refs/REVISION`` naming the commit
    under ``snapshots/``). When it is absent, ``huggingface_hub`` is installed and
    ``HF_HUB_OFFLINE`` is not set, the model and tokenizer files are downloaded into that
    cache first; otherwise :class:`HubCacheError` names the repo and the cache.
    """
    repo, _, revision = repo_id.partition("@")
    revision = revision or "main"
    cache = hub_cache_dir()
    found = _cached_snapshot(repo, revision, cache)
    if found is not None:
        return found
    if _offline():
        raise HubCacheError(repo_id, cache, "HF_HUB_OFFLINE is set, so nothing is downloaded")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise HubCacheError(
            repo_id, cache, "downloading needs the 'huggingface_hub' package"
        ) from None
    try:
        path = snapshot_download(
            repo, revision=revision, cache_dir=str(cache), allow_patterns=list(_DOWNLOAD_PATTERNS)
        )
    except Exception as ex:  # network, authentication, unknown repo: all end the same way
        raise HubCacheError(repo_id, cache, f"the download failed: {ex}") from ex
    return Path(path)
