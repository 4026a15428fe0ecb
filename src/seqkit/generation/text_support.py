"""Checks shared by the text-level APIs."""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch.nn import Module

from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.output import Hypothesis
from seqkit.generation.step_processor import VocabularyLimitProcessor
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
