"""Hugging Face ``tokenizer.json`` tokenizers through the ``tokenizers`` library (extra ``hf``).

A directory in the HF model layout loads with its own tokenizer: ``tokenizer.json`` for
the model, and ``tokenizer_config.json`` / ``special_tokens_map.json`` (when present) for
which tokens are BOS, EOS, PAD and UNK, the chat template (or ``chat_template.jinja``) and
``clean_up_tokenization_spaces``.

Encoding follows the tokenizer's own post-processor, as ``transformers`` does: with no
``mode``/``task``/``lang``, ``create_encoder()(text)`` gives exactly the ids of
``AutoTokenizer.from_pretrained(dir)(text)["input_ids"]`` (BOS only when the tokenizer.json
adds one). Mode ``prompt`` keeps the tokenizer's own prefix and drops any suffix; mode
``default`` (language-model data and scoring) keeps the prefix and ends with EOS. The
``source``/``target`` translation modes use the layouts of :mod:`seqkit.text.modes`.
``add_bos``/``add_eos`` override any of them. Decoding matches ``tokenizer.decode``:
``create_decoder()`` is ``skip_special_tokens=True``, ``create_decoder(skip_special_tokens=
False)`` keeps every token.
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
# The special tokens transformers passes to a chat template (its SPECIAL_TOKENS_ATTRIBUTES).
_TEMPLATE_TOKENS: Final = (
    "bos_token",
    "eos_token",
    "unk_token",
    "sep_token",
    "pad_token",
    "cls_token",
    "mask_token",
)
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

    def encode_with_offsets(self, text: str) -> tuple[list[int], list[tuple[int, int]]]:
        """The ids of ``text`` (no special tokens added) and each token's character span."""
        encoding = self._tok.encode(text, add_special_tokens=False)
        return list(encoding.ids), [(int(a), int(b)) for a, b in encoding.offsets]


@final
class HuggingFaceDecoder(TextTokenDecoder):
    """Decodes with a ``tokenizers.Tokenizer`` as ``transformers``' ``decode`` does."""

    def __init__(self, tokenizer: Any, *, skip_special_tokens: bool, clean_up_spaces: bool) -> None:
        super().__init__(skip_ids=frozenset())
        self._tok = tokenizer
        self._skip_special = skip_special_tokens
        self._clean = clean_up_spaces

    @override
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        texts: list[str] = self._tok.decode_batch(
            [list(row) for row in batch], skip_special_tokens=self._skip_special
        )
        return [clean_up_tokenization(t) for t in texts] if self._clean else texts


_CLEANUPS: Final = (
    (" .", "."),
    (" ?", "?"),
    (" !", "!"),
    (" ,", ","),
    (" ' ", "'"),
    (" n't", "n't"),
    (" 'm", "'m"),
    (" 's", "'s"),
    (" 've", "'ve"),
    (" 're", "'re"),
)


def clean_up_tokenization(text: str) -> str:
    """The English spacing clean-up of ``clean_up_tokenization_spaces`` (WordPiece models)."""
    for before, after in _CLEANUPS:
        text = text.replace(before, after)
    return text


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

    def __init__(
        self,
        tokenizer: Any,
        special_tokens: dict[str, str],
        *,
        config: dict[str, Any] | None = None,
        chat_template: str | None = None,
    ) -> None:
        self._tok = tokenizer
        self._config = dict(config or {})
        self._chat_template = chat_template
        self._roles = dict(special_tokens)
        self._native_prefix, self._native_suffix = _post_processor_ids(tokenizer)
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
        config = _read_json(file.parent / "tokenizer_config.json")
        return cls(
            tokenizer,
            cls._special_tokens(tokenizer, file.parent),
            config=config,
            chat_template=_chat_template(file.parent, config),
        )

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

    @property
    def native_special_ids(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer.json post-processor puts before and after a text."""
        return list(self._native_prefix), list(self._native_suffix)

    @override
    def create_encoder(
        self,
        *,
        task: str | None = None,
        lang: str | None = None,
        mode: str | None = None,
        device: torch.device | None = None,
        add_bos: bool | None = None,
        add_eos: bool | None = None,
    ) -> HuggingFaceEncoder:
        """See the module docstring: no mode means the tokenizer's own special tokens."""
        prefix, suffix = self._layout(task=task, lang=lang, mode=mode)
        prefix, suffix = self.override_bos_eos(prefix, suffix, add_bos=add_bos, add_eos=add_eos)
        return HuggingFaceEncoder(self._tok, prefix_ids=prefix, suffix_ids=suffix, device=device)

    def _layout(
        self, *, task: str | None, lang: str | None, mode: str | None
    ) -> tuple[list[int], list[int]]:
        if task is None and lang is None and mode in (None, "default", "prompt"):
            prefix, suffix = self.native_special_ids
            if mode == "prompt":
                return prefix, []
            if mode == "default":
                return self.override_bos_eos(prefix, suffix, add_bos=None, add_eos=True)
            return prefix, suffix
        return self.resolve_special_ids(task=task, lang=lang, mode=mode)

    @override
    def create_decoder(self, *, skip_special_tokens: bool = True) -> HuggingFaceDecoder:
        return HuggingFaceDecoder(
            self._tok,
            skip_special_tokens=skip_special_tokens,
            clean_up_spaces=self._clean_up_spaces(),
        )

    def _clean_up_spaces(self) -> bool:
        # transformers (v5) skips the clean-up for BPE models unless explicitly forced.
        if not self._config.get("clean_up_tokenization_spaces", False):
            return False
        is_bpe = type(self._tok.model).__name__ == "BPE"
        forced = "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output"
        return not is_bpe or bool(self._config.get(forced, False))

    @override
    def skip_ids(self) -> frozenset[int]:
        special = {
            idx
            for idx, token in self._tok.get_added_tokens_decoder().items()
            if getattr(token, "special", False)
        }
        return frozenset(special | set(super().skip_ids()))

    @property
    @override
    def chat_template(self) -> str | None:
        return self._chat_template

    @override
    def template_tokens(self) -> dict[str, str]:
        tokens: dict[str, str] = {}
        for name in _TEMPLATE_TOKENS:
            value = _token_content(self._config.get(name))
            if value is not None:
                tokens[name] = value
        for role, token in self._roles.items():
            tokens.setdefault(f"{role}_token", token)
        return tokens


def _post_processor_ids(tokenizer: Any) -> tuple[list[int], list[int]]:
    """The special ids the post-processor adds around one text, found by encoding a probe."""
    for probe in ("a", "hello", " ", "0"):
        encoding = tokenizer.encode(probe, add_special_tokens=True)
        ids, mask = list(encoding.ids), list(encoding.special_tokens_mask)
        plain = tokenizer.encode(probe, add_special_tokens=False).ids
        if not plain or len(ids) != len(plain) + sum(mask):
            continue
        first = next((i for i, m in enumerate(mask) if not m), len(ids))
        last = max((i for i, m in enumerate(mask) if not m), default=len(ids) - 1)
        return ids[:first], ids[last + 1 :]
    ids = list(tokenizer.encode("", add_special_tokens=True).ids)
    return ids, []


def _chat_template(directory: Path, config: dict[str, Any]) -> str | None:
    """``chat_template.jinja`` when present, else the config's ``chat_template`` (a string,
    or a list of named templates whose ``default`` is used)."""
    file = directory / "chat_template.jinja"
    if file.is_file():
        try:
            return file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as ex:
            raise TokenizerLoadError(str(file), f"cannot read it ({ex}).") from ex
    value = config.get("chat_template")
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        named = {
            t.get("name"): t.get("template")
            for t in value
            if isinstance(t, dict) and isinstance(t.get("template"), str)
        }
        default = named.get("default")
        return default if isinstance(default, str) else None
    return None


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
