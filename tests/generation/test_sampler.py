from __future__ import annotations

import pytest
import torch

from seqkit.generation.errors import GenerationError
from seqkit.generation.sampler import (
    GreedySampler,
    MinPSampler,
    MultinomialSampler,
    TopKSampler,
    TopPSampler,
)


def _log_probs(probs: list[float]) -> torch.Tensor:
    return torch.tensor([probs]).log()


def _draw(sampler, log_probs, n=400, seed=0) -> set[int]:
    rng = torch.Generator().manual_seed(seed)
    return {int(sampler(log_probs, rng)) for _ in range(n)}


def test_greedy_picks_argmax_per_row() -> None:
    lp = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]]).log()
    assert GreedySampler()(lp).tolist() == [1, 0]


def test_top_k_draws_only_from_the_k_best() -> None:
    lp = _log_probs([0.4, 0.3, 0.2, 0.1])
    assert _draw(TopKSampler(2), lp) == {0, 1}
    assert _draw(TopKSampler(1), lp) == {0}


def test_top_p_keeps_the_smallest_nucleus() -> None:
    lp = _log_probs([0.5, 0.3, 0.15, 0.05])
    assert _draw(TopPSampler(0.8), lp) == {0, 1}
    assert _draw(TopPSampler(0.81), lp) == {0, 1, 2}
    # The top token survives any p.
    assert _draw(TopPSampler(0.01), lp) == {0}


def test_min_p_scales_with_the_top_probability() -> None:
    lp = _log_probs([0.5, 0.3, 0.15, 0.05])
    # threshold 0.5 * 0.5 = 0.25: tokens 0 and 1.
    assert _draw(MinPSampler(0.5), lp) == {0, 1}
    assert _draw(MinPSampler(0.0), lp) == {0, 1, 2, 3}


def test_temperature_sharpens_the_distribution() -> None:
    lp = _log_probs([0.6, 0.4])
    rng = torch.Generator().manual_seed(1)
    hot = MultinomialSampler(temperature=0.05)
    picks = [int(hot(lp, rng)) for _ in range(200)]
    assert picks.count(0) > 190
    frequencies = torch.tensor([int(MultinomialSampler()(lp, rng)) for _ in range(2000)])
    assert 0.5 < float((frequencies == 0).float().mean()) < 0.7


def test_seeded_draws_are_reproducible_and_leave_global_rng_alone() -> None:
    lp = torch.randn(8, 50).log_softmax(-1)
    sampler = TopPSampler(0.9, temperature=1.3)
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = sampler(lp, torch.Generator().manual_seed(7))
    b = sampler(lp, torch.Generator().manual_seed(7))
    after = torch.rand(1)
    assert torch.equal(a, b)
    assert torch.equal(before, after)


def test_banned_tokens_at_minus_inf_are_never_drawn() -> None:
    lp = _log_probs([0.25, 0.25, 0.25, 0.25])
    lp[0, 1] = -torch.inf
    assert 1 not in _draw(MultinomialSampler(temperature=2.0), lp)
    assert 1 not in _draw(TopPSampler(1.0), lp)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: TopKSampler(0), "k >= 1"),
        (lambda: TopPSampler(0.0), "0 < p <= 1"),
        (lambda: TopPSampler(1.5), "0 < p <= 1"),
        (lambda: MinPSampler(-0.1), "0 <= p <= 1"),
        (lambda: MultinomialSampler(temperature=0.0), "GreedySampler"),
    ],
)
def test_invalid_sampler_arguments_are_rejected(factory, message) -> None:
    with pytest.raises(GenerationError, match=message):
        factory()
