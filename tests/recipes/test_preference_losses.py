"""DPO, SimPO and ORPO against their formulas on hand-set log-probabilities, and the
sequence log-probs, metrics and reader of ``lm preference-finetune``."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from seqkit.data import MaskedBatch, ReaderOptions, TokenDataset, TokenWriter
from seqkit.gang import FakeGang
from seqkit.recipes.lm.config import PreferenceSection
from seqkit.recipes.lm.preference import PreferenceLoss, PreferenceScorer, sequence_logps
from seqkit.recipes.lm.preference_data import COLUMNS, PreferenceBatch, preference_reader
from seqkit.recipes.lm.preference_losses import dpo_loss, log_odds, orpo_loss, simpo_loss


def _sig(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def _t(*values: float) -> Tensor:
    return torch.tensor(values, dtype=torch.float64)


def test_dpo_matches_its_formula() -> None:
    pc, pr, rc, rr = _t(-10.0, -4.0), _t(-12.0, -3.0), _t(-11.0, -4.5), _t(-11.5, -3.5)
    out = dpo_loss(pc, pr, rc, rr, beta=0.1)
    for i in range(2):
        h = 0.1 * ((pc[i] - rc[i]) - (pr[i] - rr[i])).item()
        assert out.losses[i].item() == pytest.approx(-math.log(_sig(h)))
        assert out.chosen_rewards[i].item() == pytest.approx(0.1 * (pc[i] - rc[i]).item())
        assert out.rejected_rewards[i].item() == pytest.approx(0.1 * (pr[i] - rr[i]).item())
    # Pair 0: chosen up 1 vs reference, rejected down 0.5: h = 0.15.
    assert out.losses[0].item() == pytest.approx(-math.log(_sig(0.15)))
    # Equal policy and reference: loss log 2, no reward.
    same = dpo_loss(pc, pr, pc, pr, beta=0.5)
    torch.testing.assert_close(same.losses, _t(math.log(2), math.log(2)))


def test_dpo_label_smoothing() -> None:
    out = dpo_loss(_t(-1.0), _t(-3.0), _t(-2.0), _t(-2.0), beta=1.0, label_smoothing=0.2)
    h = 2.0
    expected = -0.8 * math.log(_sig(h)) - 0.2 * math.log(_sig(-h))
    assert out.losses.item() == pytest.approx(expected)


def test_simpo_matches_its_formula() -> None:
    ca, ra = _t(-0.5, -2.0), _t(-1.5, -1.0)
    out = simpo_loss(ca, ra, beta=2.0, gamma=0.5)
    for i in range(2):
        margin = 2.0 * ca[i].item() - 2.0 * ra[i].item() - 0.5
        assert out.losses[i].item() == pytest.approx(-math.log(_sig(margin)))
    torch.testing.assert_close(out.chosen_rewards, 2.0 * ca)
    torch.testing.assert_close(out.rejected_rewards, 2.0 * ra)


def test_orpo_matches_its_formula() -> None:
    ca, ra = _t(-0.3), _t(-1.2)
    out = orpo_loss(ca, ra, lam=0.1)
    pc, pr = math.exp(-0.3), math.exp(-1.2)
    ratio = math.log(pc / (1 - pc)) - math.log(pr / (1 - pr))
    assert out.extra["log_odds_ratio"].item() == pytest.approx(ratio)
    assert out.extra["nll"].item() == pytest.approx(0.3)
    assert out.losses.item() == pytest.approx(0.3 - 0.1 * math.log(_sig(ratio)))
    # Stable near p = 1 (average log-prob 0): finite.
    assert torch.isfinite(log_odds(_t(0.0, -1e-12))).all()


def test_losses_differentiate_the_policy_only() -> None:
    pc = _t(-3.0).requires_grad_()
    pr = _t(-2.0).requires_grad_()
    out = dpo_loss(pc, pr, _t(-3.0), _t(-2.0), beta=0.1)
    out.losses.sum().backward()
    # d/dpc of -log sig(beta (pc - pr ...)) at h = 0: -beta / 2.
    assert pc.grad is not None
    assert pc.grad.item() == pytest.approx(-0.05)
    assert not out.chosen_rewards.requires_grad


class _Table(nn.Module):
    """A "model" whose logits depend on the input token only (a lookup table)."""

    def __init__(self, vocab: int) -> None:
        super().__init__()
        self.table = nn.Parameter(
            torch.randn(vocab, vocab, generator=torch.Generator().manual_seed(0))
        )

    def forward(self, seqs: Tensor, layout: object = None) -> Tensor:
        return self.table[seqs]


def _masked(rows: list[list[int]], masks: list[list[int]]) -> MaskedBatch:
    width = max(len(r) for r in rows)
    tokens = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    mask = torch.tensor([m + [0] * (width - len(m)) for m in masks])
    lens = torch.tensor([len(r) for r in rows])
    return MaskedBatch(
        seqs=tokens[:, :-1], targets=tokens[:, 1:], seq_lens=lens - 1, loss_mask=mask[:, 1:].bool()
    )


def _batch() -> PreferenceBatch:
    return PreferenceBatch(
        chosen=_masked([[1, 5, 6, 2], [1, 7, 3, 4, 2]], [[0, 0, 1, 1], [0, 0, 1, 1, 1]]),
        rejected=_masked([[1, 5, 3, 3, 3, 2], [1, 7, 2]], [[0, 0, 1, 1, 1, 1], [0, 0, 1]]),
    )


def _by_hand(model: _Table, rows: list[list[int]], masks: list[list[int]]) -> list[float]:
    out = []
    for row, mask in zip(rows, masks, strict=True):
        total = 0.0
        for i in range(1, len(row)):
            if mask[i]:
                total += model.table[row[i - 1]].log_softmax(-1)[row[i]].item()
        out.append(total)
    return out


def test_sequence_logps_sum_the_response_tokens_of_each_side() -> None:
    model = _Table(8)
    chosen, rejected, n_c, n_r = sequence_logps(model, _batch(), torch.device("cpu"))
    expected_c = _by_hand(model, [[1, 5, 6, 2], [1, 7, 3, 4, 2]], [[0, 0, 1, 1], [0, 0, 1, 1, 1]])
    expected_r = _by_hand(model, [[1, 5, 3, 3, 3, 2], [1, 7, 2]], [[0, 0, 1, 1, 1, 1], [0, 0, 1]])
    torch.testing.assert_close(chosen, torch.tensor(expected_c), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rejected, torch.tensor(expected_r), rtol=1e-5, atol=1e-5)
    assert n_c.tolist() == [2.0, 3.0]
    assert n_r.tolist() == [4.0, 1.0]


def test_loss_function_metrics_and_scorer() -> None:
    model = _Table(8)
    batch = _batch()
    device = torch.device("cpu")
    reference = _Table(8)
    with torch.no_grad():
        reference.table.mul_(0.5)

    def ref(b: PreferenceBatch) -> tuple[Tensor, Tensor]:
        c, r, _, _ = sequence_logps(reference, b, device)
        return c, r

    loss = PreferenceLoss(PreferenceSection(loss="dpo", beta=0.1), device, ref)
    total, pairs = loss(model, batch)
    assert pairs == 2
    pc, pr, _, _ = sequence_logps(model, batch, device)
    rc, rr = ref(batch)
    expected = dpo_loss(pc, pr, rc, rr, beta=0.1)
    assert total.item() == pytest.approx(expected.losses.sum().item(), rel=1e-5)
    metrics = loss.extra_metrics()
    margins = expected.chosen_rewards - expected.rejected_rewards
    assert metrics["reward_margin"] == pytest.approx(margins.mean().item(), rel=1e-5)
    assert metrics["reward_accuracy"] == pytest.approx((margins > 0).float().mean().item())
    assert metrics["logp_chosen"] == pytest.approx(pc.mean().item(), rel=1e-5)
    assert loss.extra_metrics() == {}  # drained
    loss(model, batch)
    loss(model, batch)
    scored = PreferenceScorer(loss)(0, FakeGang())
    assert scored["reward_margin"] == pytest.approx(margins.mean().item(), rel=1e-5)
    orpo = PreferenceLoss(PreferenceSection(loss="orpo"), device, None)
    orpo(model, batch)
    assert {"nll", "or_loss", "log_odds_ratio"} <= set(orpo.extra_metrics())
    with pytest.raises(ValueError, match="reference"):
        PreferenceLoss(PreferenceSection(loss="dpo"), device, None)


def test_reader_pads_each_side_and_keeps_pairs_aligned(tmp_path: Path) -> None:
    pairs = [([1, 5, 6, 2], [0, 0, 1, 1], [1, 5, 3, 3, 2], [0, 0, 1, 1, 1]),
             ([1, 7, 2], [0, 0, 1], [1, 7, 4, 4, 4, 4, 2], [0, 0, 1, 1, 1, 1, 1]),
             ([1, 3, 3, 2], [0, 1, 1, 1], [1, 4, 2], [0, 1, 1])]  # fmt: skip
    with TokenWriter(tmp_path / "ds", dtype="uint16", columns=COLUMNS) as writer:
        for row in pairs:
            for name, values in zip(COLUMNS, row, strict=True):
                writer.write(torch.tensor(values).numpy(), torch.tensor([len(values)]).numpy(),
                             column=name)  # fmt: skip
    ds = TokenDataset.open(tmp_path / "ds")
    reader = preference_reader(
        [ds], pad_idx=0, batch_size=3, options=ReaderOptions(shuffle=False, prefetch=0)
    )
    (batch,) = list(reader)
    assert batch.num_pairs == 3
    assert batch.chosen.seqs.shape == (3, 3)
    assert batch.rejected.seqs.shape == (3, 6)
    for i, (c, cm, r, rm) in enumerate(pairs):
        n = len(c) - 1
        assert batch.chosen.seqs[i, :n].tolist() == c[:-1]
        assert batch.chosen.targets[i, :n].tolist() == c[1:]
        assert batch.chosen.loss_mask[i, :n].tolist() == [bool(x) for x in cm[1:]]
        m = len(r) - 1
        assert batch.rejected.targets[i, :m].tolist() == r[1:]
        assert batch.rejected.loss_mask[i, :m].tolist() == [bool(x) for x in rm[1:]]
        assert not batch.rejected.loss_mask[i, m:].any()
