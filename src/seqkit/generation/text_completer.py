"""Text in, text out: complete prompts with a decoder-only language model."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import Literal, final, overload

from torch.nn import Module

from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.scoring import SequenceScorer
from seqkit.generation.streaming import stream_text
from seqkit.generation.text_support import (
    check_generator,
    default_pad_idx,
    device_of,
    limit_to_vocabulary,
    text_results,
)
from seqkit.text.tokenizer import TextTokenizer


@final
class TextCompleter:
    """Completes text with a decoder-only model, e.g. in a notebook::

        completer = TextCompleter(seqkit.load_model("x"), seqkit.load_tokenizer("x"))
        completer("In the beginning")

    Prompts are encoded in ``prompt`` mode (BOS, no EOS; for Hugging Face tokenizers the
    tokenizer's own prefix, as ``transformers`` encodes). Without a ``generator`` it decodes
    greedily, up to 128 tokens. :meth:`stream` yields the completion piece by piece.
    """

    def __init__(
        self,
        model: Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator | None = None,
    ) -> None:
        vocab = tokenizer.vocab_info
        if vocab.eos_idx is None:
            raise GenerationError(
                f"the {tokenizer.family or type(tokenizer).__name__} tokenizer has no EOS "
                "token, so generation could never stop; use a tokenizer with </s>."
            )
        self.model = model
        self.tokenizer = tokenizer
        self.generator = generator or SamplingGenerator(
            eos_idx=vocab.eos_idx, pad_idx=default_pad_idx(vocab)
        )
        check_generator(self.generator, vocab)
        self._limited = limit_to_vocabulary(self.generator, vocab)
        device = device_of(model)
        self._prompt_encoder = tokenizer.create_encoder(mode="prompt", device=device)
        self._text_encoder = tokenizer.create_encoder(mode="default", device=device)
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
        """Complete one prompt or a batch; with ``return_scores`` also give each
        completion's score (summed log-probability, length-normalised for beam search)."""
        texts = [text] if isinstance(text, str) else list(text)
        prompts = self._prompt_encoder.encode_batch(texts)
        output = self._limited.generate(self.model, prompts)
        best = [group[0] for group in output.hypotheses]
        completions = self._decoder.decode_batch([h.tokens for h in best])
        return text_results(text, completions, best, return_scores)

    def stream(self, prompt: str, *, stop_ids: Collection[int] = ()) -> Iterator[str]:
        """The completion of ``prompt`` as text pieces, each yielded as soon as its tokens
        are generated (a multi-byte character is never split between pieces); joined, they
        equal ``self(prompt)`` for a greedy or seeded generator. Generation stops at EOS or a
        ``stop_ids`` token, which are not decoded."""
        ids = self._prompt_encoder(prompt)
        return stream_text(self._limited, self.model, ids, self._decoder, stop_ids=stop_ids)

    def perplexity(self, text: str | Sequence[str]) -> float:
        """Perplexity of the model on ``text`` (BOS and EOS added, EOS scored)."""
        texts = [text] if isinstance(text, str) else list(text)
        seqs = self._text_encoder.encode_batch(texts)
        pad_idx = default_pad_idx(self.tokenizer.vocab_info)
        return SequenceScorer(self.model, pad_idx=pad_idx).score(seqs).perplexity()
