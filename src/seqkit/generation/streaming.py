"""Streaming: generated tokens one at a time, and text pieces decoded as they come.

:func:`stream_tokens` yields each token of one prompt's continuation as soon as it is
chosen (the same tokens :class:`SamplingGenerator` returns for that prompt, with the same
seed). :class:`IncrementalDecoder` turns them into text pieces that never split a
character: a piece is emitted only once the tokens seen so far decode to complete text, so
a character made of several byte tokens comes out whole.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import final

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation._decoding import CachedDecoder, check_prompts
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.sampling import SamplingGenerator
from seqkit.text.tokenizer import TextTokenDecoder

_INCOMPLETE = "\ufffd"


@torch.inference_mode()
def stream_tokens(
    generator: SequenceGenerator,
    model: Module,
    prompt: Tensor,
    *,
    stop_ids: Collection[int] = (),
) -> Iterator[int]:
    """Continue one ``prompt`` (1-D ids) with a decoder-only ``model``, yielding each new
    token id as it is chosen; the last one is EOS (or a ``stop_ids`` token) when the
    model stops before ``generator.max_gen_len`` tokens.

    A :class:`SamplingGenerator` streams token by token (with ``num_gens`` taken as 1);
    any other generator (beam search) runs to the end first and then yields its best
    hypothesis.
    """
    stops = {generator.eos_idx, *stop_ids}
    if not isinstance(generator, SamplingGenerator):
        best = generator.generate(model, [prompt]).hypotheses[0][0]
        for token in best.tokens.tolist():
            yield int(token)
            if token in stops:
                return
        return
    check_prompts([prompt])
    prompt_len = int(prompt.size(0))
    total_len = prompt_len + generator.max_gen_len
    seqs = torch.full((1, total_len), generator.pad_idx, dtype=torch.int64, device=prompt.device)
    seqs[0, :prompt_len] = prompt
    rng = None
    if generator.seed is not None:
        rng = torch.Generator(device=prompt.device)
        rng.manual_seed(generator.seed)
    decoder = CachedDecoder(model, max_num_steps=total_len, sources=None, pad_idx=generator.pad_idx)
    logits = decoder(seqs[:, :prompt_len])
    lens = torch.tensor([prompt_len], device=prompt.device)
    for pos in range(prompt_len, total_len):
        log_probs = generator.process_logits(seqs[:, :pos], logits[:, -1], pos - lens)
        token = generator.sampler(log_probs, rng)
        seqs[:, pos] = token
        idx = int(token[0])
        yield idx
        if idx in stops or pos + 1 == total_len:
            return
        logits = decoder(seqs[:, pos : pos + 1])


@final
class IncrementalDecoder:
    """Decodes a growing sequence of token ids into text pieces, one :meth:`push` at a time.

    The pieces joined equal the decoding of all the ids. Each push decodes only a short
    window (from the last emitted boundary), so streaming stays linear in the length.
    """

    def __init__(self, decoder: TextTokenDecoder) -> None:
        self._decoder = decoder
        self._ids: list[int] = []
        self._prefix = 0  # start of the window that gives context for the next piece
        self._read = 0  # end of what has already been emitted

    def push(self, token: int) -> str:
        """Add one token; return the new text it completes (``""`` while a character is
        still incomplete)."""
        self._ids.append(token)
        return self._emit(final=False)

    def push_all(self, tokens: Sequence[int]) -> str:
        """Add several tokens at once."""
        self._ids.extend(tokens)
        return self._emit(final=False)

    def flush(self) -> str:
        """The text still held back (an incomplete character at the very end)."""
        return self._emit(final=True)

    def _emit(self, *, final: bool) -> str:
        seen = self._decoder(self._ids[self._prefix : self._read])
        text = self._decoder(self._ids[self._prefix :])
        if len(text) <= len(seen) or (text.endswith(_INCOMPLETE) and not final):
            return ""
        piece = text[len(seen) :]
        self._prefix, self._read = self._read, len(self._ids)
        return piece


def stream_text(
    generator: SequenceGenerator,
    model: Module,
    prompt: Tensor,
    decoder: TextTokenDecoder,
    *,
    stop_ids: Collection[int] = (),
) -> Iterator[str]:
    """Text pieces of the continuation of ``prompt`` (see :func:`stream_tokens`); stop
    tokens are not decoded."""
    stops = {generator.eos_idx, *stop_ids}
    incremental = IncrementalDecoder(decoder)
    for token in stream_tokens(generator, model, prompt, stop_ids=stop_ids):
        if token in stops:
            break
        piece = incremental.push(token)
        if piece:
            yield piece
    rest = incremental.flush()
    if rest:
        yield rest
