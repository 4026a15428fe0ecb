"""Hugging Face ``tokenizer.json`` tokenizers through the ``tokenizers`` library (extra ``hf``).

A directory in the HF model layout loads with its own tokenizer: ``tokenizer.json`` for
the model, and ``tokenizer_config.json`` / ``special_tokens_map.json`` (when present) for
which tokens are BOS, EOS, PAD and UNK.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final, final

import torch
from typing_extensions import override

from seqkit.text.errors import TokenizerLoadError
from seqkit.text.family import TokenizerFamily
from seqkit.text.tokenizer import TextTokenDecoder, TextTokenEncoder, TextTokenizer
from seqkit.text.vocabulary import VocabularyInfo

HF_FAMILY: Final = "huggingface"

_LANG_TOKEN = re.compile(r"^__[A-Za-z0-9_-]+__$")
_ROLES: Final = ("unk", "bos", "eos", "pad")
# Used only when no config file names a role; the common spellings of each role.
_FALLBACKS: Final = {
    "unk": ("<unk>", "[UNK]", "<|unk|>"),
    "bos": ("<s>", "<|begin_of_text|>", "<|startoftext|>", "<bos>"),
    "eos": ("</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"),
    "pad": ("<pad>", "[PAD]", "<|pad|>"),
}


@final
class HuggingFaceEncoder(TextTokenEncoder):
    """Encodes with a ``tokenizers.Tokenizer``; batches run in its Rust thread pool."""

    def __init__(
        self,
        tokenizer: Any,
        *,
        prefix_ids: Sequence[int],
        suffix_ids: Sequence[int],
        device: torch.device | None,
    ) -> None:
        super().__init__(prefix_ids=prefix_ids, suffix_ids=suffix_ids, device=device)
        self._tok = tokenizer

    @override
    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        encode = getattr(self._tok, "encode_batch_fast", self._tok.encode_batch)
        return [encoding.ids for encoding in encode(list(texts), add_special_tokens=False)]


@final
class HuggingFaceDecoder(TextTokenDecoder):
    """Decodes with a ``tokenizers.Tokenizer``."""

    def __init__(self, tokenizer: Any, *, skip_ids: frozenset[int]) -> None:
        super().__init__(skip_ids=skip_ids)
        self._tok = tokenizer

    @override
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        texts: list[str] = self._tok.decode_batch(
            [list(row) for row in batch], skip_special_tokens=False
        )
        return texts


def _token_content(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return str(value["content"])
    return None


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as ex:
        raise TokenizerLoadError(str(path), f"cannot parse it as JSON ({ex}).") from ex
    return data if isinstance(data, dict) else {}


@final
class HuggingFaceTokenizer(TextTokenizer):
    """A tokenizer read from a Hugging Face ``tokenizer.json``."""

    family = HF_FAMILY

    def __init__(self, tokenizer: Any, special_tokens: dict[str, str]) -> None:
        self._tok = tokenizer
        ids = {role: tokenizer.token_to_id(tok) for role, tok in special_tokens.items()}
        self._vocab = VocabularyInfo(
            size=tokenizer.get_vocab_size(with_added_tokens=True),
            unk_idx=ids.get("unk"),
            bos_idx=ids.get("bos"),
            eos_idx=ids.get("eos"),
            pad_idx=ids.get("pad"),
        )
        self._langs = sorted(
            idx
            for token, idx in tokenizer.get_vocab(with_added_tokens=True).items()
            if _LANG_TOKEN.match(token)
        )

    @classmethod
    def from_path(cls, path: Path) -> HuggingFaceTokenizer:
        """Load ``path`` (a ``tokenizer.json`` or a directory holding one)."""
        try:
            from tokenizers import Tokenizer
        except ImportError as ex:
            raise TokenizerLoadError(
                str(path), "it needs the 'tokenizers' package: pip install 'seqkit[hf]'."
            ) from ex
        file = path / "tokenizer.json" if path.is_dir() else path
        if not file.is_file():
            raise TokenizerLoadError(str(path), f"{file} does not exist.")
        try:
            tokenizer = Tokenizer.from_file(str(file))
        except Exception as ex:  # the Rust side raises plain Exception subclasses
            raise TokenizerLoadError(str(file), f"it is not a valid tokenizer.json ({ex}).") from ex
        return cls(tokenizer, cls._special_tokens(tokenizer, file.parent))

    @staticmethod
    def _special_tokens(tokenizer: Any, directory: Path) -> dict[str, str]:
        found: dict[str, str] = {}
        for name in ("special_tokens_map.json", "tokenizer_config.json"):
            config = _read_json(directory / name)
            for role in _ROLES:
                token = _token_content(config.get(f"{role}_token"))
                if role not in found and token is not None:
                    found[role] = token
        vocab = tokenizer.get_vocab(with_added_tokens=True)
        for role in _ROLES:
            match = next((t for t in _FALLBACKS[role] if t in vocab), None)
            if role not in found and match is not None:
                found[role] = match
        return {role: token for role, token in found.items() if token in vocab}

    @property
    @override
    def vocab_info(self) -> VocabularyInfo:
        return self._vocab

    @override
    def token_to_index(self, token: str) -> int | None:
        idx: int | None = self._tok.token_to_id(token)
        return idx

    @override
    def index_to_token(self, idx: int) -> str:
        token: str | None = self._tok.id_to_token(idx)
        if token is None:
            raise IndexError(f"Id {idx} is outside the vocabulary of size {self._vocab.size}.")
        return token

    @override
    def language_token_ids(self) -> list[int]:
        return list(self._langs)

    @override
    def create_encoder(
        self,
        *,
        task: str | None = None,
        lang: str | None = None,
        mode: str | None = None,
        device: torch.device | None = None,
    ) -> HuggingFaceEncoder:
        prefix, suffix = self.resolve_special_ids(task=task, lang=lang, mode=mode)
        return HuggingFaceEncoder(self._tok, prefix_ids=prefix, suffix_ids=suffix, device=device)

    @override
    def create_decoder(self, *, skip_special_tokens: bool = True) -> HuggingFaceDecoder:
        skip = self.skip_ids() if skip_special_tokens else frozenset()
        return HuggingFaceDecoder(self._tok, skip_ids=skip)


def _load(path: Path | None) -> TextTokenizer:
    if path is None:
        raise TokenizerLoadError(HF_FAMILY, "pass a tokenizer.json file or its directory.")
    return HuggingFaceTokenizer.from_path(path)


def _recognizes(path: Path) -> bool:
    if path.is_dir():
        return (path / "tokenizer.json").is_file()
    return path.is_file() and path.name == "tokenizer.json"


def huggingface_family() -> TokenizerFamily:
    """The ``huggingface`` family: ``tokenizer.json`` files and HF model directories."""
    return TokenizerFamily(name=HF_FAMILY, loader=_load, recognizes=_recognizes)
