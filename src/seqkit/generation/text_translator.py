"""Text in, text out: translate with an encoder-decoder model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import torch
from torch import Tensor
from torch.nn import Module
from typing_extensions import override

from seqkit.generation._decoding import as_encoder_decoder
from seqkit.generation.beam_search import BeamSearchGenerator
from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.scoring import SequenceScorer
from seqkit.generation.text_support import TextToText
from seqkit.text.tokenizer import TextTokenizer


@final
class TextTranslator(TextToText):
    """Translates sentences with an encoder-decoder model::

        translator = TextTranslator(model, tokenizer, source_lang="en", target_lang="es")
        translator(["In the beginning God created the heaven and the earth."])

    Sources are encoded in ``source`` mode (``__en__ text </s>``); the decoder starts
    from the ``target`` mode prefix (``<s> __es__``), so the language token is forced.
    Without a ``generator`` it runs beam search with 4 beams, up to 256 tokens.
    ``translator(text, return_scores=...)`` translates one sentence or a batch.
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
        super().__init__(
            model,
            tokenizer,
            generator,
            default_generator=lambda eos, pad: BeamSearchGenerator(
                eos_idx=eos, pad_idx=pad, beam_size=4, max_gen_len=256
            ),
            no_eos="the tokenizer has no EOS token; translation could not stop.",
        )
        device = self._device
        self._source_encoder = tokenizer.create_encoder(
            task="translation", lang=source_lang, mode="source", device=device
        )
        target_encoder = tokenizer.create_encoder(
            task="translation", lang=target_lang, mode="target", device=device
        )
        self._prefix = torch.tensor(target_encoder.prefix_ids, dtype=torch.int64, device=device)
        self._target_encoder = target_encoder

    @override
    def _inputs(self, texts: list[str]) -> tuple[Sequence[Tensor], Sequence[Tensor]]:
        return [self._prefix] * len(texts), self._source_encoder.encode_batch(texts)

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
        scorer = SequenceScorer(self.model, pad_idx=self._pad_idx)
        out = scorer.score([t[n:] for t in full], contexts=[t[:n] for t in full], sources=src)
        return [float(x) for x in out.seq_log_probs]
