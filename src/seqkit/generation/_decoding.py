"""Shared plumbing of the generators: prompt batching and cached model calls."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, cast

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation.errors import GenerationError
from seqkit.nn.batch_layout import BatchLayout
from seqkit.nn.incremental_state import IncrementalStateBag
from seqkit.nn.projection import fuse_projections


class EncoderDecoderModel(Protocol):
    """The encoder-decoder half of the model contract (see ``docs/architecture.md``)."""

    def encode(self, seqs: Tensor, layout: BatchLayout | None) -> tuple[Tensor, BatchLayout | None]:
        """Encode ``seqs [B, S]``; return the encoder output and its layout."""
        ...

    def decode(
        self,
        seqs: Tensor,
        layout: BatchLayout | None,
        enc_out: Tensor,
        enc_layout: BatchLayout | None,
        *,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        """Decode ``seqs [B, T]`` against the encoder output; return logits ``[B, T, V]``."""
        ...


def as_encoder_decoder(model: Module) -> EncoderDecoderModel | None:
    """``model`` typed as an encoder-decoder model, or ``None`` if it is decoder-only."""
    if hasattr(model, "encode") and hasattr(model, "decode"):
        return cast(EncoderDecoderModel, model)
    return None


def pad_right(seqs: Sequence[Tensor], *, pad_idx: int, total_len: int | None = None) -> Tensor:
    """Stack 1-D sequences into ``[B, total_len]``, right-padded with ``pad_idx``."""
    lens = [int(s.numel()) for s in seqs]
    width = max(lens) if total_len is None else total_len
    device = seqs[0].device
    out = torch.full((len(seqs), width), pad_idx, dtype=torch.long, device=device)
    for row, seq in enumerate(seqs):
        out[row, : lens[row]] = seq
    return out


def check_prompts(prompts: Sequence[Tensor], what: str = "prompt") -> list[int]:
    """Return the prompt lengths; raise if the batch is empty or a prompt is not 1-D."""
    if len(prompts) == 0:
        raise GenerationError(f"generate() needs at least one {what}, got an empty list.")
    lens = []
    for i, prompt in enumerate(prompts):
        if prompt.dim() != 1 or prompt.numel() == 0:
            raise GenerationError(
                f"{what} {i} must be a non-empty 1-D LongTensor of token ids, got shape "
                f"{tuple(prompt.shape)}; a decoder-only prompt needs at least BOS."
            )
        lens.append(int(prompt.numel()))
    return lens


@dataclass(frozen=True)
class DecodeBatch:
    """The decoder batch of a generate() call: every prompt (and source) repeated
    ``copies`` times, consecutively, in a buffer with room for the generated tokens."""

    prompt_lens: list[int]
    """Length of each original prompt."""

    lens: Tensor
    """Prompt length of every row."""

    sources: list[Tensor] | None
    """The sources, repeated alike (encoder-decoder models), or ``None``."""

    seqs: Tensor
    """``[rows, total_len]`` prompts, right-padded; generated tokens are written here."""

    @property
    def min_len(self) -> int:
        """The shortest prompt: the positions every row has before generating."""
        return min(self.prompt_lens)

    @property
    def total_len(self) -> int:
        """Buffer width: the longest prompt plus ``max_gen_len``."""
        return self.seqs.shape[1]


def decode_batch(
    prompts: Sequence[Tensor],
    sources: Sequence[Tensor] | None,
    *,
    copies: int,
    max_gen_len: int,
    pad_idx: int,
) -> DecodeBatch:
    """Check the prompts (and that there is one source per prompt), repeat each ``copies``
    times and lay them out in a padded buffer ``max_gen_len`` wider than the longest."""
    prompt_lens = check_prompts(prompts)
    if sources is not None and len(sources) != len(prompts):
        raise GenerationError(
            f"got {len(sources)} sources for {len(prompts)} prompts; pass one each."
        )
    rows = [p for p in prompts for _ in range(copies)]
    return DecodeBatch(
        prompt_lens=prompt_lens,
        lens=torch.tensor([n for n in prompt_lens for _ in range(copies)], device=rows[0].device),
        sources=None if sources is None else [s for s in sources for _ in range(copies)],
        seqs=pad_right(rows, pad_idx=pad_idx, total_len=max(prompt_lens) + max_gen_len),
    )


class CachedDecoder:
    """Calls a decoder-only or encoder-decoder model one chunk at a time with a KV cache.

    For an encoder-decoder model the sources are encoded once here; each row of the
    decoder batch reads the encoder output of ``sources[row]``.
    """

    def __init__(
        self,
        model: Module,
        *,
        max_num_steps: int,
        sources: Sequence[Tensor] | None,
        pad_idx: int,
    ) -> None:
        self.model = model
        # One matmul for q/k/v and one for gate/inner per layer; a no-op after the first
        # call and for models without fusable projections.
        fuse_projections(model)
        self.state_bag = IncrementalStateBag(max_num_steps)
        self._enc_out: Tensor | None = None
        self._enc_layout: BatchLayout | None = None
        self._enc_dec = as_encoder_decoder(model)
        self._last_only: bool | None = None
        if self._enc_dec is not None:
            if sources is None:
                raise GenerationError(
                    f"{type(model).__name__} is an encoder-decoder model: pass sources= "
                    "(the source token ids) to generate()."
                )
            src_lens = check_prompts(sources, "source")
            src = pad_right(sources, pad_idx=pad_idx)
            src_layout = BatchLayout(torch.tensor(src_lens, device=src.device))
            self._enc_out, self._enc_layout = self._enc_dec.encode(src, src_layout)
        elif sources is not None:
            raise GenerationError(
                f"{type(model).__name__} is a decoder-only model: sources= is only for "
                "encoder-decoder models; put the whole context in the prompt."
            )

    def __call__(self, seqs: Tensor) -> Tensor:
        """Run ``seqs [B, S]`` at the next ``S`` positions; return the logits ``[B, 1, V]``
        of the last one (the only ones a generator reads)."""
        kwargs: dict[str, object] = {"state_bag": self.state_bag}
        if seqs.size(1) > 1 and self._accepts_last_only:
            kwargs["last_only"] = True
        if self._enc_dec is None or self._enc_out is None:
            logits = self.model(seqs, None, **kwargs)
        else:
            decode = cast(Callable[..., Tensor], self._enc_dec.decode)
            logits = decode(seqs, None, self._enc_out, self._enc_layout, **kwargs)
        self.state_bag.increment_step_nr(seqs.size(1))
        assert isinstance(logits, Tensor)
        return logits[:, -1:]

    @property
    def _accepts_last_only(self) -> bool:
        if self._last_only is None:
            call = self.model.forward if self._enc_dec is None else self._enc_dec.decode
            self._last_only = _has_keyword(call, "last_only")
        return self._last_only

    def reorder(self, new_order: Tensor) -> None:
        """Make row ``i`` of the cache continue row ``new_order[i]`` (beam search)."""
        self.state_bag.reorder(new_order)


def _has_keyword(fn: Callable[..., object], name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (models outside seqkit may not)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params
