"""SentencePiece tokenizers (``.model`` files), with deterministic and sampled encoding."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final, final

import sentencepiece as spm
import torch
from typing_extensions import override

from seqkit.text.errors import TokenizerLoadError
from seqkit.text.family import TokenizerFamily
from seqkit.text.tokenizer import TextTokenDecoder, TextTokenEncoder, TextTokenizer
from seqkit.text.vocabulary import VocabularyInfo

SENTENCEPIECE_FAMILY: Final = "sentencepiece"

_LANG_TOKEN = re.compile(r"^__[A-Za-z0-9_-]+__$")


@final
class SentencePieceEncoder(TextTokenEncoder):
    """Encodes with a SentencePiece model; batches run on ``num_threads`` native threads."""

    def __init__(
        self,
        processor: spm.SentencePieceProcessor,
        *,
        prefix_ids: Sequence[int],
        suffix_ids: Sequence[int],
        device: torch.device | None,
        num_threads: int | None,
        enable_sampling: bool,
        nbest_size: int,
        alpha: float,
    ) -> None:
        super().__init__(
            prefix_ids=prefix_ids, suffix_ids=suffix_ids, device=device, num_threads=num_threads
        )
        self._sp = processor
        self._sampling = enable_sampling
        self._nbest = nbest_size
        self._alpha = alpha

    @override
    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        # SentencePiece's batch encode releases the GIL and fans out over native threads.
        ids: list[list[int]] = self._sp.encode(
            list(texts),
            num_threads=self._num_threads,
            enable_sampling=self._sampling,
            nbest_size=self._nbest,
            alpha=self._alpha,
        )
        return ids

    @override
    def encode_ids(self, text: str) -> list[int]:
        ids: list[int] = self._sp.encode(
            text, enable_sampling=self._sampling, nbest_size=self._nbest, alpha=self._alpha
        )
        return ids


@final
class SentencePieceDecoder(TextTokenDecoder):
    """Decodes ids with a SentencePiece model."""

    def __init__(self, processor: spm.SentencePieceProcessor, *, skip_ids: frozenset[int]) -> None:
        super().__init__(skip_ids=skip_ids)
        self._sp = processor

    @override
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        texts: list[str] = self._sp.decode([list(row) for row in batch])
        return texts


@final
class SentencePieceTokenizer(TextTokenizer):
    """A tokenizer backed by a SentencePiece model (unigram or BPE)."""

    family = SENTENCEPIECE_FAMILY

    def __init__(self, processor: spm.SentencePieceProcessor) -> None:
        self._sp = processor

        def opt(idx: int) -> int | None:
            return None if idx < 0 else idx

        self._vocab = VocabularyInfo(
            size=processor.get_piece_size(),
            unk_idx=opt(processor.unk_id()),
            bos_idx=opt(processor.bos_id()),
            eos_idx=opt(processor.eos_id()),
            pad_idx=opt(processor.pad_id()),
        )
        self._langs = [
            i
            for i in range(processor.get_piece_size())
            if processor.is_control(i) is False
            and _LANG_TOKEN.match(processor.id_to_piece(i)) is not None
        ]

    @classmethod
    def from_file(cls, path: Path) -> SentencePieceTokenizer:
        """Load a ``.model`` file; raise :class:`TokenizerLoadError` naming it if unreadable."""
        if not path.is_file():
            raise TokenizerLoadError(str(path), "the SentencePiece model file does not exist.")
        processor = spm.SentencePieceProcessor()
        try:
            processor.load(str(path))
        except (OSError, RuntimeError) as ex:
            raise TokenizerLoadError(
                str(path), f"it is not a valid SentencePiece model ({ex})."
            ) from ex
        return cls(processor)

    @property
    def processor(self) -> spm.SentencePieceProcessor:
        """The underlying SentencePiece processor."""
        return self._sp

    @property
    @override
    def vocab_info(self) -> VocabularyInfo:
        return self._vocab

    @override
    def token_to_index(self, token: str) -> int | None:
        idx: int = self._sp.piece_to_id(token)
        if idx == self._sp.unk_id() and token != self._sp.id_to_piece(idx):
            return None
        return idx

    @override
    def index_to_token(self, idx: int) -> str:
        piece: str = self._sp.id_to_piece(idx)
        return piece

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
        num_threads: int | None = None,
        enable_sampling: bool = False,
        nbest_size: int = -1,
        alpha: float = 0.1,
        add_bos: bool | None = None,
        add_eos: bool | None = None,
    ) -> SentencePieceEncoder:
        """See :meth:`TextTokenizer.create_encoder`.

        ``enable_sampling`` turns on subword regularization (``nbest_size``, ``alpha`` as in
        SentencePiece); ``num_threads`` defaults to every core this process may use.
        """
        prefix, suffix = self.resolve_special_ids(task=task, lang=lang, mode=mode)
        prefix, suffix = self.override_bos_eos(prefix, suffix, add_bos=add_bos, add_eos=add_eos)
        return SentencePieceEncoder(
            self._sp,
            prefix_ids=prefix,
            suffix_ids=suffix,
            device=device,
            num_threads=num_threads,
            enable_sampling=enable_sampling,
            nbest_size=nbest_size,
            alpha=alpha,
        )

    @override
    def create_decoder(self, *, skip_special_tokens: bool = True) -> SentencePieceDecoder:
        skip = self.skip_ids() if skip_special_tokens else frozenset()
        return SentencePieceDecoder(self._sp, skip_ids=skip)


def _load(path: Path | None) -> TextTokenizer:
    if path is None:
        raise TokenizerLoadError(
            SENTENCEPIECE_FAMILY, "a SentencePiece tokenizer needs a .model file; pass its path."
        )
    return SentencePieceTokenizer.from_file(path)


def _recognizes(path: Path) -> bool:
    return path.is_file() and path.suffix == ".model"


def sentencepiece_family() -> TokenizerFamily:
    """The ``sentencepiece`` tokenizer family (``.model`` files)."""
    return TokenizerFamily(name=SENTENCEPIECE_FAMILY, loader=_load, recognizes=_recognizes)
