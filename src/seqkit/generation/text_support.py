"""What the text-level APIs share: checks and the model/tokenizer/generator setup."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Literal, overload

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.output import Hypothesis
from seqkit.generation.step_processor import VocabularyLimitProcessor
from seqkit.text.tokenizer import TextTokenizer
from seqkit.text.vocabulary import VocabularyInfo


def default_pad_idx(vocab: VocabularyInfo) -> int:
    """The tokenizer's PAD id, or 0 (padding is never attended, any id will do)."""
    return 0 if vocab.pad_idx is None else vocab.pad_idx


def check_generator(generator: SequenceGenerator, vocab: VocabularyInfo) -> None:
    """Raise if ``generator`` would stop on a different EOS than the tokenizer's."""
    if generator.eos_idx != vocab.eos_idx:
        raise GenerationError(
            f"the generator stops at eos_idx={generator.eos_idx} but the tokenizer's EOS is "
            f"{vocab.eos_idx}; build the generator with eos_idx=tokenizer.vocab_info.eos_idx."
        )


def device_of(model: Module) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    for param in model.parameters():
        return param.device
    return torch.device("cpu")


def limit_to_vocabulary(generator: SequenceGenerator, vocab: VocabularyInfo) -> SequenceGenerator:
    """A copy of ``generator`` that never produces ids the tokenizer cannot decode."""
    limited = copy.copy(generator)
    limited.step_processors = [*generator.step_processors, VocabularyLimitProcessor(vocab.size)]
    return limited


def text_results(
    text: str | Sequence[str], strings: list[str], best: list[Hypothesis], return_scores: bool
) -> str | list[str] | tuple[str, float] | list[tuple[str, float]]:
    """Shape decoded ``strings`` like the input ``text`` (one or a list), each paired with
    its hypothesis's score when ``return_scores``."""
    results: list[str] | list[tuple[str, float]]
    if return_scores:
        results = [(s, h.score) for s, h in zip(strings, best, strict=True)]
    else:
        results = strings
    return results[0] if isinstance(text, str) else results


class TextModel:
    """A model, its tokenizer and a generator limited to the tokenizer's vocabulary
    (``default_generator(eos_idx, pad_idx)`` when none is given); raises ``no_eos``
    if the tokenizer has no EOS token."""

    def __init__(
        self,
        model: Module,
        tokenizer: TextTokenizer,
        generator: SequenceGenerator | None,
        *,
        default_generator: Callable[[int, int], SequenceGenerator],
        no_eos: str,
    ) -> None:
        vocab = tokenizer.vocab_info
        if vocab.eos_idx is None:
            raise GenerationError(no_eos)
        self.model = model
        self.tokenizer = tokenizer
        self.generator = generator or default_generator(vocab.eos_idx, default_pad_idx(vocab))
        check_generator(self.generator, vocab)
        self._limited = limit_to_vocabulary(self.generator, vocab)
        self._device = device_of(model)
        self._decoder = tokenizer.create_decoder()

    @property
    def _pad_idx(self) -> int:
        return default_pad_idx(self.tokenizer.vocab_info)


class TextToText(TextModel):
    """Text in, text out: ``self(text)`` encodes the texts with :meth:`_inputs`, generates
    and decodes each input's best hypothesis."""

    def _inputs(self, texts: list[str]) -> tuple[Sequence[Tensor], Sequence[Tensor] | None]:
        """The prompts and (for an encoder-decoder model) the sources of ``texts``."""
        raise NotImplementedError

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
        """Generate for one text or a batch; with ``return_scores`` also give each
        output's score (summed log-probability, length-normalised for beam search)."""
        texts = [text] if isinstance(text, str) else list(text)
        prompts, sources = self._inputs(texts)
        if sources is None:
            output = self._limited.generate(self.model, prompts)
        else:
            output = self._limited.generate(self.model, prompts, sources=sources)
        best = [group[0] for group in output.hypotheses]
        strings = self._decoder.decode_batch([h.tokens for h in best])
        return text_results(text, strings, best, return_scores)
