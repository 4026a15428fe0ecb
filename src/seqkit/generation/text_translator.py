"""Text in, text out: translate with an encoder-decoder model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, final, overload

import torch
from torch.nn import Module

from seqkit.generation._decoding import as_encoder_decoder
from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.scoring import SequenceScorer
from seqkit.generation.text_support import (
    check_generator,
    default_pad_idx,
    device_of,
    limit_to_vocabulary,
    text_results,
)
from seqkit.text.tokenizer import TextTokenizer


@final
class TextTranslator:
    """Translates sentences with an encoder-decoder model::

        translator = TextTranslator(model, tokenizer, source_lang="en", target_lang="es")
        translator(["In the beginning God created the heaven and the earth."])

    Sources are encoded in ``source`` mode (``__en__ text </s>``); the decoder starts
    from the ``target`` mode prefix (``<s> __es__``), so the language token is forced.
    Without a ``generator`` it runs beam search with 4 beams, up to 256 tokens.
    """

    def __init__(
        self,
        model: Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator | None = None,
        *,
        source_lang: str | None = None,
        target_lang: str | None = None,
    ) -> None:
        if as_encoder_decoder(model) is None:
            raise GenerationError(
                f"TextTranslator needs an encoder-decoder model, got {type(model).__name__} "
                "(decoder-only); use TextCompleter for it."
            )
        vocab = tokenizer.vocab_info
        if vocab.eos_idx is None:
            raise GenerationError("the tokenizer has no EOS token; translation could not stop.")
        self.model = model
        self.tokenizer = tokenizer
        self.generator = generator or BeamSearchGenerator(
            eos_idx=vocab.eos_idx, pad_idx=default_pad_idx(vocab), beam_size=4, max_gen_len=256
        )
        check_generator(self.generator, vocab)
        self._limited = limit_to_vocabulary(self.generator, vocab)
        device = device_of(model)
        self._source_encoder = tokenizer.create_encoder(
            task="translation", lang=source_lang, mode="source", device=device
        )
        target_encoder = tokenizer.create_encoder(
            task="translation", lang=target_lang, mode="target", device=device
        )
        self._prefix = torch.tensor(target_encoder.prefix_ids, dtype=torch.int64, device=device)
        self._target_encoder = target_encoder
        self._decoder = tokenizer.create_decoder()

    @overload
    def __call__(self, text: str, *, return_scores: Literal[False] = ...) -> str: ...

    @overload
    def __call__(self, text: list[str], *, return_scores: Literal[False] = ...) -> list[str]: ...

    @overload
    def __call__(self, text: str, *, return_scores: Literal[True]) -> tuple[str, float]: ...

    @overload
    def __call__(
        self, text: list[str], *, return_scores: Literal[True]
    ) -> list[tuple[str, float]]: ...

    def __call__(
        self, text: str | Sequence[str], *, return_scores: bool = False
    ) -> str | list[str] | tuple[str, float] | list[tuple[str, float]]:
        """Translate one sentence or a batch; with ``return_scores`` also give each
        translation's score (length-normalised log-probability for beam search)."""
        texts = [text] if isinstance(text, str) else list(text)
        sources = self._source_encoder.encode_batch(texts)
        prefixes = [self._prefix] * len(texts)
        output = self._limited.generate(self.model, prefixes, sources=sources)
        best = [group[0] for group in output.hypotheses]
        translations = self._decoder.decode_batch([h.tokens for h in best])
        return text_results(text, translations, best, return_scores)

    def score(self, sources: Sequence[str], targets: Sequence[str]) -> list[float]:
        """Summed log-probability of each given translation ``targets[i]`` of ``sources[i]``
        (its text and EOS, after the ``<s> __yy__`` prefix)."""
        if len(sources) != len(targets):
            raise GenerationError(
                f"got {len(sources)} sources and {len(targets)} targets; pass pairs."
            )
        src = self._source_encoder.encode_batch(sources)
        full = self._target_encoder.encode_batch(targets)
        n = self._prefix.numel()
        scorer = SequenceScorer(self.model, pad_idx=default_pad_idx(self.tokenizer.vocab_info))
        out = scorer.score([t[n:] for t in full], contexts=[t[:n] for t in full], sources=src)
        return [float(x) for x in out.seq_log_probs]
