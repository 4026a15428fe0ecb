"""A byte-level tokenizer: UTF-8 bytes shifted past four special ids (no training needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Final, final

import torch
from typing_extensions import override

from seqkit.text.errors import TokenizerLoadError
from seqkit.text.family import TokenizerFamily
from seqkit.text.tokenizer import TextTokenDecoder, TextTokenEncoder, TextTokenizer
from seqkit.text.vocabulary import VocabularyInfo

BYTE_FAMILY: Final = "byte"

_SPECIALS: Final = ("<pad>", "<s>", "</s>", "<unk>")
_OFFSET: Final = len(_SPECIALS)


@final
class ByteEncoder(TextTokenEncoder):
    """Encodes text as its UTF-8 bytes, each shifted by 4."""

    @override
    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        # bytes.translate would need a 1:1 byte map; the shift leaves the byte range.
        return [[b + _OFFSET for b in text.encode("utf-8")] for text in texts]


@final
class ByteDecoder(TextTokenDecoder):
    """Decodes shifted bytes; invalid UTF-8 (a model's output can be) becomes U+FFFD."""

    @override
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        return [
            bytes(i - _OFFSET for i in row if i >= _OFFSET).decode("utf-8", errors="replace")
            for row in batch
        ]


@final
class ByteTokenizer(TextTokenizer):
    """``<pad>=0, <s>=1, </s>=2, <unk>=3``, then byte ``b`` is id ``b + 4`` (260 ids)."""

    family = BYTE_FAMILY

    _vocab = VocabularyInfo(size=_OFFSET + 256, pad_idx=0, bos_idx=1, eos_idx=2, unk_idx=3)

    @property
    @override
    def vocab_info(self) -> VocabularyInfo:
        return self._vocab

    @override
    def token_to_index(self, token: str) -> int | None:
        if token in _SPECIALS:
            return _SPECIALS.index(token)
        data = token.encode("utf-8")
        return data[0] + _OFFSET if len(data) == 1 else None

    @override
    def index_to_token(self, idx: int) -> str:
        if idx < _OFFSET:
            return _SPECIALS[idx]
        return f"<0x{idx - _OFFSET:02X}>"

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
    ) -> ByteEncoder:
        prefix, suffix = self.resolve_special_ids(task=task, lang=lang, mode=mode)
        prefix, suffix = self.override_bos_eos(prefix, suffix, add_bos=add_bos, add_eos=add_eos)
        return ByteEncoder(prefix_ids=prefix, suffix_ids=suffix, device=device)

    @override
    def create_decoder(self, *, skip_special_tokens: bool = True) -> ByteDecoder:
        return ByteDecoder(skip_ids=self.skip_ids() if skip_special_tokens else frozenset())


def _load(path: Path | None) -> TextTokenizer:
    if path is not None:
        raise TokenizerLoadError(str(path), "the byte tokenizer takes no file; load it as 'byte'.")
    return ByteTokenizer()


def byte_family() -> TokenizerFamily:
    """The built-in ``byte`` tokenizer family."""
    return TokenizerFamily(name=BYTE_FAMILY, loader=_load, builtin=True)
