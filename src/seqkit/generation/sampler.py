"""Samplers: pick the next token of every row from its log-probabilities.

A sampler sees log-probabilities ``[B, V]`` after the step processors ran, so banned
tokens already sit at ``-inf`` and no sampler can pick them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import final

import torch
from torch import Tensor
from typing_extensions import override

from seqkit.generation.errors import GenerationError


class Sampler(ABC):
    """Picks one token per row from log-probabilities ``[B, V]``."""

    @abstractmethod
    def __call__(self, log_probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Return the chosen token ids, a LongTensor ``[B]``."""


@final
class GreedySampler(Sampler):
    """Always picks the most probable token (ties go to the lowest id, as in ``argmax``)."""

    @override
    def __call__(self, log_probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return log_probs.argmax(dim=-1)


class _RandomSampler(Sampler):
    """Shared temperature scaling and the final multinomial draw."""

    def __init__(self, temperature: float) -> None:
        if not temperature > 0.0:
            raise GenerationError(
                f"temperature must be > 0, got {temperature}; use GreedySampler for "
                "deterministic decoding."
            )
        self.temperature = temperature

    @override
    def __call__(self, log_probs: Tensor, generator: torch.Generator | None = None) -> Tensor:
        scores = log_probs.float()
        if self.temperature != 1.0:
            scores = scores / self.temperature
        scores = self._filter(scores)
        probs = torch.softmax(scores, dim=-1)
        return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(-1)

    def _filter(self, scores: Tensor) -> Tensor:
        """Set the scores of tokens that must not be drawn to ``-inf``."""
        return scores


@final
class MultinomialSampler(_RandomSampler):
    """Draws from the full (temperature-scaled) distribution."""

    def __init__(self, *, temperature: float = 1.0) -> None:
        super().__init__(temperature)


@final
class TopKSampler(_RandomSampler):
    """Draws among the ``k`` most probable tokens (Fan et al., 2018)."""

    def __init__(self, k: int, *, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        if k < 1:
            raise GenerationError(f"top-k needs k >= 1, got k={k}.")
        self.k = k

    @override
    def _filter(self, scores: Tensor) -> Tensor:
        k = min(self.k, scores.size(-1))
        kth = scores.topk(k, dim=-1).values[:, -1:]
        return scores.masked_fill(scores < kth, -torch.inf)


@final
class TopPSampler(_RandomSampler):
    """Nucleus sampling: draws among the smallest set of tokens whose mass reaches ``p``.

    The most probable token is always kept, so ``p`` close to 0 behaves like greedy
    decoding with temperature (Holtzman et al., 2020).
    """

    def __init__(self, p: float, *, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        if not 0.0 < p <= 1.0:
            raise GenerationError(f"top-p needs 0 < p <= 1, got p={p}.")
        self.p = p

    @override
    def _filter(self, scores: Tensor) -> Tensor:
        sorted_scores, order = scores.sort(dim=-1, descending=True)
        probs = torch.softmax(sorted_scores, dim=-1)
        # Mass strictly before each token: a token is kept while that mass is below p.
        mass_before = probs.cumsum(dim=-1) - probs
        drop_sorted = mass_before >= self.p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        return scores.masked_fill(drop, -torch.inf)


@final
class MinPSampler(_RandomSampler):
    """Draws among tokens whose probability is at least ``p`` times the top one's.

    The cut-off scales with the model's confidence (Nguyen et al., 2024, "min-p").
    """

    def __init__(self, p: float, *, temperature: float = 1.0) -> None:
        super().__init__(temperature)
        if not 0.0 <= p <= 1.0:
            raise GenerationError(f"min-p needs 0 <= p <= 1, got p={p}.")
        self.p = p

    @override
    def _filter(self, scores: Tensor) -> Tensor:
        log_probs = torch.log_softmax(scores, dim=-1)
        top = log_probs.max(dim=-1, keepdim=True).values
        threshold = top + torch.log(torch.tensor(self.p, dtype=scores.dtype))
        return scores.masked_fill(log_probs < threshold, -torch.inf)
