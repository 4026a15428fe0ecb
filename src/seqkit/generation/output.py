"""What generators return."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(kw_only=True)
class Hypothesis:
    """One generated continuation of one prompt."""

    tokens: Tensor
    """The generated token ids ``[N]`` (prompt excluded), ending with EOS if one was made."""

    score: float
    """Sum of the generated tokens' log-probabilities; for beam search, divided by
    ``len ** length_penalty``."""

    step_scores: Tensor
    """The log-probability ``[N]`` of each generated token under the processed
    distribution it was chosen from."""

    finished: bool
    """Whether the hypothesis ended with EOS (rather than hitting the length limit)."""


@dataclass(kw_only=True)
class GenerationOutput:
    """For each prompt, its hypotheses, best first."""

    hypotheses: list[list[Hypothesis]]
    """``hypotheses[i]`` belongs to prompt ``i``; one per sample or the n-best of a beam."""

    num_steps: int
    """How many model calls decoding took (prefill included); early exit makes it smaller
    than the length limit."""
