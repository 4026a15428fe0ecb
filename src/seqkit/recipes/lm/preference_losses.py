"""Preference losses on sequence log-probabilities: DPO, SimPO and ORPO.

Every function takes per-pair log-probabilities of the chosen and rejected responses
(``[B]`` tensors) and returns per-pair losses and the implicit rewards that the metrics
compare (a pair is "won" when the chosen reward is higher):

* DPO (Rafailov et al., 2023), against a frozen reference model, summed log-probs:
  ``h = beta * ((pi_c - ref_c) - (pi_r - ref_r))``,
  ``loss = -(1 - eps) * log sigmoid(h) - eps * log sigmoid(-h)``; rewards
  ``beta * (pi - ref)``.
* SimPO (Meng et al., 2024), reference-free, length-normalized log-probs ``a = logp / n``:
  ``loss = -log sigmoid(beta * a_c - beta * a_r - gamma)``; rewards ``beta * a``.
* ORPO (Hong et al., 2024), reference-free, ``a = logp / n`` and
  ``log odds = a - log(1 - exp(a))``: ``loss = -a_c - lambda * log sigmoid(log odds_c -
  log odds_r)`` (the chosen responses' NLL per token plus the odds-ratio term); rewards
  ``lambda * a``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True, kw_only=True)
class PairLosses:
    """Per-pair results of a preference loss (all ``[B]``)."""

    losses: Tensor
    """The loss of each pair (to be summed)."""

    chosen_rewards: Tensor
    """Implicit reward of each chosen response (no gradient)."""

    rejected_rewards: Tensor
    """Implicit reward of each rejected response (no gradient)."""

    extra: dict[str, Tensor]
    """Loss-specific per-pair terms to report (e.g. ORPO's NLL and odds-ratio term)."""


def dpo_loss(
    policy_chosen: Tensor,
    policy_rejected: Tensor,
    ref_chosen: Tensor,
    ref_rejected: Tensor,
    *,
    beta: float,
    label_smoothing: float = 0.0,
) -> PairLosses:
    """DPO on summed log-probs of the policy and the reference model."""
    chosen_ratio = policy_chosen - ref_chosen
    rejected_ratio = policy_rejected - ref_rejected
    h = beta * (chosen_ratio - rejected_ratio)
    losses = -(1.0 - label_smoothing) * F.logsigmoid(h) - label_smoothing * F.logsigmoid(-h)
    return PairLosses(
        losses=losses,
        chosen_rewards=(beta * chosen_ratio).detach(),
        rejected_rewards=(beta * rejected_ratio).detach(),
        extra={},
    )


def simpo_loss(
    chosen_avg: Tensor, rejected_avg: Tensor, *, beta: float, gamma: float
) -> PairLosses:
    """SimPO on per-token average log-probs of the policy."""
    chosen_rewards = beta * chosen_avg
    rejected_rewards = beta * rejected_avg
    losses = -F.logsigmoid(chosen_rewards - rejected_rewards - gamma)
    return PairLosses(
        losses=losses,
        chosen_rewards=chosen_rewards.detach(),
        rejected_rewards=rejected_rewards.detach(),
        extra={},
    )


def log_odds(avg_logps: Tensor) -> Tensor:
    """``log(p / (1 - p))`` for ``p = exp(avg_logps)``, stable for ``avg_logps`` near 0."""
    clamped = avg_logps.clamp(max=-1e-6)
    return clamped - torch.log(-torch.expm1(clamped))


def orpo_loss(chosen_avg: Tensor, rejected_avg: Tensor, *, lam: float) -> PairLosses:
    """ORPO on per-token average log-probs of the policy: NLL + ``lam`` * odds-ratio term."""
    ratio = log_odds(chosen_avg) - log_odds(rejected_avg)
    or_term = -F.logsigmoid(ratio)
    nll = -chosen_avg
    return PairLosses(
        losses=nll + lam * or_term,
        chosen_rewards=(lam * chosen_avg).detach(),
        rejected_rewards=(lam * rejected_avg).detach(),
        extra={"nll": nll.detach(), "or_loss": or_term.detach(), "log_odds_ratio": ratio.detach()},
    )
