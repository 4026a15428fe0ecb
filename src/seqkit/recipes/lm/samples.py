"""A few sampled continuations printed at the end of training."""

from __future__ import annotations

import sys

from torch import nn

from seqkit.generation import SamplingGenerator, TextCompleter, TopPSampler
from seqkit.recipes.lm.config import SampleSection
from seqkit.text import TextTokenizer


def create_completer(
    model: nn.Module,
    tokenizer: TextTokenizer,
    *,
    max_new_tokens: int,
    temperature: float,
    top_p: float,
    seed: int | None,
) -> TextCompleter:
    """A text completer that samples with nucleus sampling (greedy at temperature 0)."""
    vocab = tokenizer.vocab_info
    assert vocab.eos_idx is not None
    pad = vocab.pad_idx if vocab.pad_idx is not None else 0
    sampler = None if temperature == 0 else TopPSampler(top_p, temperature=temperature)
    generator = SamplingGenerator(
        sampler, eos_idx=vocab.eos_idx, pad_idx=pad, max_gen_len=max_new_tokens, seed=seed
    )
    return TextCompleter(model, tokenizer, generator)


def print_samples(
    model: nn.Module, tokenizer: TextTokenizer, section: SampleSection, *, seed: int
) -> list[str]:
    """Complete each prompt of ``section`` and print prompt + continuation."""
    completer = create_completer(
        model,
        tokenizer,
        max_new_tokens=section.max_new_tokens,
        temperature=section.temperature,
        top_p=section.top_p,
        seed=seed,
    )
    was_training = model.training
    model.eval()
    completions = completer(list(section.prompts))
    model.train(was_training)
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print("\nSamples (prompt, then the model's continuation in bold):", flush=True)
    for prompt, completion in zip(section.prompts, completions):
        print(f"  {prompt}{bold}{_join(prompt, completion)}{plain}", flush=True)
    return completions


def _join(prompt: str, completion: str) -> str:
    if completion and prompt and not prompt.endswith(" ") and not completion.startswith(" "):
        return " " + completion
    return completion
