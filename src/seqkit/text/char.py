"""A character tokenizer: Unicode code points, or a fixed alphabet saved as JSON.

``char`` (built-in, no file) maps code point ``c`` to id ``c + 4``: lossless, but its
1.1 M ids suit only tests and toy models. ``CharTokenizer.from_texts(...)`` builds a
compact alphabet from a corpus; ``save()`` writes it as ``*.chars.json``, which loads with
family ``char``; characters outside the alphabet encode as ``<unk>``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final, final

import torch
from typing_extensions import override

from seqkit.text.errors import TokenizerLoadError
from seqkit.text.family import TokenizerFamily
from seqkit.text.tokenizer import TextTokenDecoder, TextTokenEncoder, TextTokenizer
from seqkit.text.vocabulary import VocabularyInfo

CHAR_FAMILY: Final = "char"
CHARS_FORMAT: Final = "seqkit.chars"

_SPECIALS: Final = ("<pad>", "<s>", "</s>", "<unk>")
_OFFSET: Final = len(_SPECIALS)
_UNK: Final = 3
_CODE_POINTS: Final = 0x110000


@final
class CharEncoder(TextTokenEncoder):
    """Encodes each character on its own."""

    def __init__(
        self,
        table: dict[str, int] | None,
        *,
        prefix_ids: Sequence[int],
        suffix_ids: Sequence[int],
        device: torch.device | None,
    ) -> None:
        super().__init__(prefix_ids=prefix_ids, suffix_ids=suffix_ids, device=device)
        self._table = table

    @override
    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        table = self._table
        if table is None:
            return [[ord(c) + _OFFSET for c in text] for text in texts]
        return [[table.get(c, _UNK) for c in text] for text in texts]


@final
class CharDecoder(TextTokenDecoder):
    """Joins characters; ``<unk>`` decodes as U+FFFD."""

    def __init__(self, alphabet: Sequence[str] | None, *, skip_ids: frozenset[int]) -> None:
        super().__init__(skip_ids=skip_ids)
        self._alphabet = alphabet

    def _char(self, idx: int) -> str:
        if idx < _OFFSET:
            return "\ufffd" if idx == _UNK else ""
        if self._alphabet is None:
            return chr(idx - _OFFSET)
        return self._alphabet[idx - _OFFSET]

    @override
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        return ["".join(self._char(i) for i in row) for row in batch]


@final
class CharTokenizer(TextTokenizer):
    """``<pad>=0, <s>=1, </s>=2, <unk>=3``, then one id per character."""

    family = CHAR_FAMILY

    def __init__(self, alphabet: Sequence[str] | None = None) -> None:
        if alphabet is not None:
            if any(len(c) != 1 for c in alphabet) or len(set(alphabet)) != len(alphabet):
                raise ValueError("A character alphabet holds distinct single characters.")
            self._alphabet: list[str] | None = list(alphabet)
            self._table: dict[str, int] | None = {c: i + _OFFSET for i, c in enumerate(alphabet)}
        else:
            self._alphabet = None
            self._table = None
        size = _OFFSET + (_CODE_POINTS if alphabet is None else len(alphabet))
        self._vocab = VocabularyInfo(size=size, pad_idx=0, bos_idx=1, eos_idx=2, unk_idx=_UNK)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> CharTokenizer:
        """Build a tokenizer whose alphabet is every character of ``texts``, sorted."""
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return cls(sorted(seen))

    @classmethod
    def from_file(cls, path: Path) -> CharTokenizer:
        """Load an alphabet written by :meth:`save`."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as ex:
            raise TokenizerLoadError(str(path), f"cannot read the alphabet file ({ex}).") from ex
        if not isinstance(data, dict) or data.get("format") != CHARS_FORMAT:
            raise TokenizerLoadError(
                str(path), f'the file is not a character alphabet ({{"format": "{CHARS_FORMAT}"}}).'
            )
        alphabet = data.get("alphabet")
        if not isinstance(alphabet, list) or not all(isinstance(c, str) for c in alphabet):
            raise TokenizerLoadError(str(path), "'alphabet' must be a list of characters.")
        try:
            return cls(alphabet)
        except ValueError as ex:
            raise TokenizerLoadError(str(path), str(ex)) from ex

    def save(self, path: Path) -> None:
        """Write the alphabet as JSON (only for a tokenizer built with an alphabet)."""
        if self._alphabet is None:
            raise ValueError("The code-point character tokenizer has no alphabet to save.")
        payload = {"format": CHARS_FORMAT, "alphabet": self._alphabet}
        path.write_text(json.dumps(payload, ensure_ascii=False) + "\n", encoding="utf-8")

    @property
    @override
    def vocab_info(self) -> VocabularyInfo:
        return self._vocab

    @override
    def token_to_index(self, token: str) -> int | None:
        if token in _SPECIALS:
            return _SPECIALS.index(token)
        if len(token) != 1:
            return None
        if self._table is None:
            return ord(token) + _OFFSET
        return self._table.get(token)

    @override
    def index_to_token(self, idx: int) -> str:
        if idx < _OFFSET:
            return _SPECIALS[idx]
        return chr(idx - _OFFSET) if self._alphabet is None else self._alphabet[idx - _OFFSET]

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
    ) -> CharEncoder:
        prefix, suffix = self.resolve_special_ids(task=task, lang=lang, mode=mode)
        prefix, suffix = self.override_bos_eos(prefix, suffix, add_bos=add_bos, add_eos=add_eos)
        return CharEncoder(self._table, prefix_ids=prefix, suffix_ids=suffix, device=device)

    @override
    def create_decoder(self, *, skip_special_tokens: bool = True) -> CharDecoder:
        skip = self.skip_ids() if skip_special_tokens else frozenset()
        return CharDecoder(self._alphabet, skip_ids=skip)


def _load(path: Path | None) -> TextTokenizer:
    return CharTokenizer() if path is None else CharTokenizer.from_file(path)


def _recognizes(path: Path) -> bool:
    return path.is_file() and path.name.endswith(".chars.json")


def char_family() -> TokenizerFamily:
    """The ``char`` tokenizer family: built-in code points, or a ``*.chars.json`` alphabet."""
    return TokenizerFamily(name=CHAR_FAMILY, loader=_load, recognizes=_recognizes, builtin=True)
