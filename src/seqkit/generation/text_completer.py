"""Text in, text out: complete prompts with a decoder-only language model."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from typing import final

from torch import Tensor
from torch.nn import Module
from typing_extensions import override

from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.sampling import SamplingGenerator
from seqkit.generation.scoring import SequenceScorer
from seqkit.generation.streaming import stream_text
from seqkit.generation.text_support import TextToText
from seqkit.text.tokenizer import TextTokenizer


@final
class TextCompleter(TextToText):
    """Completes text with a decoder-only model, e.g. in a notebook::

        completer = TextCompleter(seqkit.load_model("x"), seqkit.load_tokenizer("x"))
        completer("In the beginning")

    Prompts are encoded in ``prompt`` mode (BOS, no EOS; for Hugging Face tokenizers the
    tokenizer's own prefix, as ``transformers`` encodes). Without a ``generator`` it decodes
    greedily, up to 128 tokens. ``completer(text, return_scores=...)`` completes one prompt
    or a batch; :meth:`stream` yields the completion piece by piece.
    """

    def __init__(
        self,
        model: Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator | None = None,
    ) -> None:
        super().__init__(
            model,
            tokenizer,
            generator,
            default_generator=lambda eos, pad: SamplingGenerator(eos_idx=eos, pad_idx=pad),
            no_eos=f"the {tokenizer.family or type(tokenizer).__name__} tokenizer has no EOS "
            "token, so generation could never stop; use a tokenizer with </s>.",
        )
        self._prompt_encoder = tokenizer.create_encoder(mode="prompt", device=self._device)
        self._text_encoder = tokenizer.create_encoder(mode="default", device=self._device)

    @override
    def _inputs(self, texts: list[str]) -> tuple[Sequence[Tensor], None]:
        return self._prompt_encoder.encode_batch(texts), None

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
        return SequenceScorer(self.model, pad_idx=self._pad_idx).score(seqs).perplexity()
