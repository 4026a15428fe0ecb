"""The tokenizer interface: a :class:`TextTokenizer` makes encoders and decoders.

Families implement only raw encoding (text to ids without special tokens) and raw
decoding; this module adds the special tokens of each mode (see :mod:`seqkit.text.modes`),
tensor conversion, and a flat NumPy form used by binarization.
"""

from __future__ import annotations

import copy
import itertools
import os
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self, cast, final, get_args

import numpy as np
import numpy.typing as npt
import torch
from torch import Tensor

from seqkit.data.tokens import concat_token_ids
from seqkit.text.errors import ChatTemplateError, EncodingModeError
from seqkit.text.modes import Special, SpecialTokenLayout, resolve_layout
from seqkit.text.vocabulary import VocabularyInfo


def default_num_threads() -> int:
    """Every core this process may run on (its CPU affinity, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@final
@dataclass(frozen=True, kw_only=True)
class FlatEncoding:
    """A batch of encoded texts stored back to back, with the length of each."""

    tokens: npt.NDArray[np.integer]
    """All token ids of the batch, special tokens included."""

    lengths: npt.NDArray[np.int64]
    """Number of tokens of each text."""


class TextTokenEncoder(ABC):
    """Encodes text into token ids, adding the prefix and suffix ids of its mode."""

    def __init__(
        self,
        *,
        prefix_ids: Sequence[int] = (),
        suffix_ids: Sequence[int] = (),
        device: torch.device | None = None,
        num_threads: int | None = None,
    ) -> None:
        self._prefix = list(prefix_ids)
        self._suffix = list(suffix_ids)
        self._device = device
        self._num_threads = _check_threads(num_threads or default_num_threads())

    @property
    def num_threads(self) -> int:
        """Native threads a batch encode may use (default: every core this process may use).

        SentencePiece honours it per call; families that encode in Python (byte, char) run
        on one thread whatever it says, and Hugging Face ``tokenizers`` sizes its Rust pool
        once per process (``RAYON_NUM_THREADS``).
        """
        return self._num_threads

    def with_num_threads(self, num_threads: int) -> Self:
        """A copy of this encoder (same model, mode and device) using ``num_threads``."""
        clone = copy.copy(self)
        clone._num_threads = _check_threads(num_threads)
        return clone

    @property
    def prefix_ids(self) -> list[int]:
        """Ids put before every encoded text."""
        return list(self._prefix)

    @property
    def suffix_ids(self) -> list[int]:
        """Ids put after every encoded text."""
        return list(self._suffix)

    @abstractmethod
    def encode_ids_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode ``texts`` without special tokens; implementations use every core."""

    def encode_ids(self, text: str) -> list[int]:
        """Encode one text without special tokens."""
        return self.encode_ids_batch([text])[0]

    def __call__(self, text: str) -> Tensor:
        """Encode ``text`` into a 1-D int64 tensor, special tokens included."""
        ids = self._prefix + self.encode_ids(text) + self._suffix
        return torch.tensor(ids, dtype=torch.int64, device=self._device)

    def __seqkit_map_batch__(
        self, texts: list[str], num_parallel_calls: int
    ) -> FlatEncoding | list[Tensor]:
        """The batch form ``DataPipelineBuilder.map`` calls once per chunk of elements.

        Equal to ``[self(t) for t in texts]``: on the CPU it returns the flat encoding (one
        int64 array and the length of each text), which the pipeline splits into 1-D int64
        tensors viewing that array, with no Python object per text; on another device, a
        list of tensors. ``num_parallel_calls`` chunks may run at once, so each encodes on
        ``num_threads // num_parallel_calls`` threads (at least one).
        """
        threads = max(1, self._num_threads // max(1, num_parallel_calls))
        encoder = self if threads == self._num_threads else self.with_num_threads(threads)
        if self._device is None or torch.device(self._device).type == "cpu":
            return encoder.encode_batch_flat(texts)
        return encoder.encode_batch(texts)

    def encode_batch(self, texts: Sequence[str]) -> list[Tensor]:
        """Encode many texts at once (off the GIL where the family allows)."""
        prefix, suffix, device = self._prefix, self._suffix, self._device
        return [
            torch.tensor(prefix + ids + suffix, dtype=torch.int64, device=device)
            for ids in self.encode_ids_batch(texts)
        ]

    def encode_batch_flat(
        self, texts: Sequence[str], *, dtype: npt.DTypeLike = np.int64
    ) -> FlatEncoding:
        """Encode ``texts`` into one flat array of ``dtype`` plus per-text lengths."""
        return flatten(self.encode_ids_batch(texts), self._prefix, self._suffix, dtype=dtype)


def _check_threads(num_threads: int) -> int:
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    return num_threads


_NativeDType = Literal["uint16", "uint32", "int64"]
_NATIVE_DTYPES: frozenset[str] = frozenset(get_args(_NativeDType))


def flatten(
    batch: Sequence[Sequence[int]],
    prefix: Sequence[int],
    suffix: Sequence[int],
    *,
    dtype: npt.DTypeLike = np.int64,
) -> FlatEncoding:
    """Concatenate ``prefix + ids + suffix`` of every row into one array (in C++ for lists
    of lists of ints, what the built-in encoders return; any other sequences in numpy)."""
    name = np.dtype(dtype).name
    if type(batch) is list and name in _NATIVE_DTYPES:
        try:
            native = cast(_NativeDType, name)
            tokens, lengths = concat_token_ids(batch, prefix=prefix, suffix=suffix, dtype=native)
            return FlatEncoding(tokens=tokens, lengths=lengths)
        except TypeError:
            pass  # rows that are tuples/arrays, or ids that are numpy ints
    n = len(batch)
    raw_lens = np.fromiter(map(len, batch), dtype=np.int64, count=n)
    total_raw = int(raw_lens.sum())
    raw = np.fromiter(itertools.chain.from_iterable(batch), dtype=dtype, count=total_raw)
    p, s = len(prefix), len(suffix)
    if p == 0 and s == 0:
        return FlatEncoding(tokens=raw, lengths=raw_lens)
    lengths = raw_lens + (p + s)
    ends = np.cumsum(lengths)
    starts = ends - lengths
    out = np.empty(int(ends[-1]) if n else 0, dtype=dtype)
    body = np.ones(out.shape[0], dtype=bool)
    for k, token in enumerate(prefix):
        out[starts + k] = token
        body[starts + k] = False
    for k, token in enumerate(suffix):
        out[ends - s + k] = token
        body[ends - s + k] = False
    out[body] = raw
    return FlatEncoding(tokens=out, lengths=lengths)


class TextTokenDecoder(ABC):
    """Decodes token ids into text, dropping special ids (BOS, EOS, PAD, language tokens)."""

    def __init__(self, *, skip_ids: frozenset[int] = frozenset()) -> None:
        self._skip = skip_ids

    @abstractmethod
    def decode_ids_batch(self, batch: Sequence[Sequence[int]]) -> list[str]:
        """Decode rows of ids that contain no special ids."""

    def __call__(self, ids: Tensor | Sequence[int]) -> str:
        """Decode one sequence of ids (a 1-D tensor or a list)."""
        return self.decode_batch([ids])[0]

    def decode_batch(self, batch: Sequence[Tensor | Sequence[int]]) -> list[str]:
        """Decode many sequences at once."""
        rows: list[list[int]] = []
        for ids in batch:
            values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
            if self._skip:
                values = [i for i in values if i not in self._skip]
            rows.append(values)
        return self.decode_ids_batch(rows)


class TextTokenizer(ABC):
    """A tokenizer family instance; see :mod:`seqkit.text.modes` for the encoding modes."""

    family: str = ""
    """The name of the family this tokenizer belongs to (``"sentencepiece"``...)."""

    @property
    @abstractmethod
    def vocab_info(self) -> VocabularyInfo:
        """Size and special-token indices of the vocabulary."""

    @abstractmethod
    def token_to_index(self, token: str) -> int | None:
        """The id of ``token`` when it is a single symbol of the vocabulary, else ``None``."""

    @abstractmethod
    def index_to_token(self, idx: int) -> str:
        """The symbol of id ``idx``."""

    @abstractmethod
    def create_encoder(
        self,
        *,
        task: str | None = None,
        lang: str | None = None,
        mode: str | None = None,
        device: torch.device | None = None,
        add_bos: bool | None = None,
        add_eos: bool | None = None,
    ) -> TextTokenEncoder:
        """Create an encoder for ``task``/``lang``/``mode`` producing tensors on ``device``.

        ``add_bos``/``add_eos`` override whether the encoded text starts with BOS and ends
        with EOS (``None``: what the mode, or for Hugging Face tokenizers the tokenizer's own
        post-processor, does); see :meth:`override_bos_eos`.
        """

    @abstractmethod
    def create_decoder(self, *, skip_special_tokens: bool = True) -> TextTokenDecoder:
        """Create a decoder; by default it drops BOS, EOS, PAD and language tokens."""

    def special_ids(self, layout: SpecialTokenLayout) -> tuple[list[int], list[int]]:
        """Map a layout's symbols to ids; raise naming the missing token and the fix."""
        return self._ids_of(layout.prefix, layout), self._ids_of(layout.suffix, layout)

    def resolve_special_ids(
        self, *, task: str | None, lang: str | None, mode: str | None
    ) -> tuple[list[int], list[int]]:
        """Shorthand for :func:`resolve_layout` followed by :meth:`special_ids`."""
        return self.special_ids(resolve_layout(task=task, lang=lang, mode=mode))

    def override_bos_eos(
        self,
        prefix: Sequence[int],
        suffix: Sequence[int],
        *,
        add_bos: bool | None,
        add_eos: bool | None,
    ) -> tuple[list[int], list[int]]:
        """``prefix``/``suffix`` with BOS first in the prefix when ``add_bos`` (none when
        ``add_bos`` is false) and EOS last in the suffix when ``add_eos`` (none when false);
        ``None`` keeps them as they are."""
        info = self.vocab_info
        head, tail = list(prefix), list(suffix)
        for flag, idx, name in ((add_bos, info.bos_idx, "BOS"), (add_eos, info.eos_idx, "EOS")):
            if flag and idx is None:
                raise EncodingModeError(
                    f"add_{name.lower()}=True, but this {self.family} vocabulary has no {name} "
                    "token; leave the option unset or use a tokenizer that has one."
                )
        if add_bos is not None and info.bos_idx is not None:
            head = [i for i in head if i != info.bos_idx]
            if add_bos:
                head.insert(0, info.bos_idx)
        if add_eos is not None and info.eos_idx is not None:
            tail = [i for i in tail if i != info.eos_idx]
            if add_eos:
                tail.append(info.eos_idx)
        return head, tail

    @property
    def chat_template(self) -> str | None:
        """The Jinja chat template the tokenizer ships (``None`` when it has none)."""
        return None

    def apply_chat_template(
        self,
        messages: Sequence[Mapping[str, object]],
        *,
        add_generation_prompt: bool = False,
        **kwargs: object,
    ) -> str:
        """Render ``messages`` with the tokenizer's chat template (see
        :mod:`seqkit.text.chat_template`); raise when the tokenizer has none."""
        template = self.chat_template
        if template is None:
            raise ChatTemplateError(
                f"This {self.family or type(self).__name__} tokenizer has no chat template; "
                "format the conversation yourself or use a tokenizer that ships one "
                "(tokenizer_config.json `chat_template` or chat_template.jinja)."
            )
        from seqkit.text.chat_template import render_chat_template

        context: dict[str, Any] = {**self.template_tokens(), **kwargs}
        return render_chat_template(
            template, messages, add_generation_prompt=add_generation_prompt, **context
        )

    def template_tokens(self) -> dict[str, str]:
        """The special tokens a chat template sees as variables (``bos_token``...)."""
        tokens: dict[str, str] = {}
        info = self.vocab_info
        for name, idx in (
            ("bos_token", info.bos_idx),
            ("eos_token", info.eos_idx),
            ("unk_token", info.unk_idx),
            ("pad_token", info.pad_idx),
        ):
            if idx is not None:
                tokens[name] = self.index_to_token(idx)
        return tokens

    def skip_ids(self) -> frozenset[int]:
        """Ids a decoder drops by default: BOS, EOS, PAD and language tokens ``__xx__``."""
        info = self.vocab_info
        ids = {i for i in (info.bos_idx, info.eos_idx, info.pad_idx) if i is not None}
        ids.update(self.language_token_ids())
        return frozenset(ids)

    def language_token_ids(self) -> list[int]:
        """Ids of the vocabulary's language tokens (symbols shaped ``__xx__``)."""
        return []

    def _ids_of(self, symbols: tuple[Special | str, ...], layout: SpecialTokenLayout) -> list[int]:
        info = self.vocab_info
        ids: list[int] = []
        for symbol in symbols:
            if symbol is Special.BOS or symbol is Special.EOS:
                idx = info.bos_idx if symbol is Special.BOS else info.eos_idx
                if idx is None:
                    raise EncodingModeError(
                        f"Mode {layout.mode!r} needs {symbol.value}, but this {self.family} "
                        "vocabulary has none; use a mode without it or a tokenizer that has it."
                    )
                ids.append(idx)
                continue
            found = self.token_to_index(symbol)
            if found is None or found == info.unk_idx:
                raise EncodingModeError(
                    f"Language token {symbol!r} is not a symbol of this {self.family} "
                    "vocabulary; train the tokenizer with it (`seqkit text train-tokenizer "
                    f"--lang {symbol.strip('_')}`) or drop lang=."
                )
            ids.append(found)
        return ids
