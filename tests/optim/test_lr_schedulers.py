from __future__ import annotations

import io
import math

import pytest
import torch

from seqkit.optim import (
    ConstantWarmupConfig,
    CosineConfig,
    NoamConfig,
    OptimConfigError,
    PolynomialDecayConfig,
    SGDConfig,
    TriStageConfig,
    create_lr_scheduler,
    create_optimizer,
    lr_scheduler_config_from_dict,
)

BASE_LR = 0.5


def _lrs(config: object, num_steps: int) -> list[float]:
    """LR used by each of the first ``num_steps`` optimizer steps (1-based t = index + 1)."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = create_optimizer(SGDConfig(lr=BASE_LR), [param])
    scheduler = create_lr_scheduler(config, optimizer)  # type: ignore[arg-type]
    lrs = []
    for _ in range(num_steps):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def test_constant_with_warmup() -> None:
    lrs = _lrs(ConstantWarmupConfig(warmup_steps=4, start_lr_scale=0.2), 8)
    start = 0.2 * BASE_LR
    expected = [start + (BASE_LR - start) * t / 4 for t in range(1, 5)] + [BASE_LR] * 4
    assert lrs == pytest.approx(expected)


def test_cosine_with_warmup_and_min_lr() -> None:
    config = CosineConfig(warmup_steps=3, total_steps=13, min_lr=0.01)
    lrs = _lrs(config, 16)
    for t, lr in enumerate(lrs, start=1):
        if t <= 3:
            want = BASE_LR * t / 3
        else:
            p = min(1.0, (t - 3) / 10)
            want = 0.01 + (BASE_LR - 0.01) * 0.5 * (1 + math.cos(math.pi * p))
        assert lr == pytest.approx(want), t
    assert lrs[-1] == pytest.approx(0.01)
    assert lrs[2] == pytest.approx(BASE_LR)  # the peak is at the end of warmup


def test_noam_peaks_at_warmup_then_decays_as_inverse_sqrt() -> None:
    lrs = _lrs(NoamConfig(warmup_steps=4), 20)
    for t, lr in enumerate(lrs, start=1):
        want = BASE_LR * min(t / 4, (4 / t) ** 0.5)
        assert lr == pytest.approx(want)
    assert max(lrs) == pytest.approx(BASE_LR)
    assert lrs[15] == pytest.approx(BASE_LR / 2)  # t=16 = 4 * warmup -> half the peak


def test_polynomial_decay() -> None:
    config = PolynomialDecayConfig(warmup_steps=2, total_steps=10, power=2.0, final_lr=0.1)
    lrs = _lrs(config, 12)
    for t, lr in enumerate(lrs, start=1):
        if t <= 2:
            want = BASE_LR * t / 2
        else:
            p = min(1.0, (t - 2) / 8)
            want = 0.1 + (BASE_LR - 0.1) * (1 - p) ** 2
        assert lr == pytest.approx(want)
    assert lrs[-1] == pytest.approx(0.1)


def test_tri_stage() -> None:
    config = TriStageConfig(
        total_steps=20, stage_ratios=(0.2, 0.3, 0.5), start_lr_scale=0.1, final_lr_scale=0.01
    )
    lrs = _lrs(config, 24)
    for t, lr in enumerate(lrs, start=1):
        if t <= 4:
            want = 0.1 * BASE_LR + (BASE_LR - 0.1 * BASE_LR) * t / 4
        elif t <= 10:
            want = BASE_LR
        elif t <= 20:
            want = BASE_LR * 0.01 ** ((t - 10) / 10)
        else:
            want = BASE_LR * 0.01
        assert lr == pytest.approx(want), t


def test_state_round_trips_through_weights_only_load() -> None:
    config = CosineConfig(warmup_steps=2, total_steps=10)
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = create_optimizer(SGDConfig(lr=BASE_LR), [param])
    scheduler = create_lr_scheduler(config, optimizer)
    for _ in range(5):
        optimizer.step()
        scheduler.step()
    buffer = io.BytesIO()
    torch.save(scheduler.state_dict(), buffer)
    buffer.seek(0)
    state = torch.load(buffer, weights_only=True)

    optimizer2 = create_optimizer(SGDConfig(lr=BASE_LR), [param])
    scheduler2 = create_lr_scheduler(config, optimizer2)
    scheduler2.load_state_dict(state)
    optimizer2.step()
    scheduler2.step()
    optimizer.step()
    scheduler.step()
    assert optimizer2.param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


def test_from_dict_and_invalid_configs() -> None:
    config = lr_scheduler_config_from_dict({"name": "cosine", "total_steps": 5, "warmup_steps": 1})
    assert config == CosineConfig(total_steps=5, warmup_steps=1)
    with pytest.raises(OptimConfigError, match="Did you mean 'cosine'"):
        lr_scheduler_config_from_dict({"name": "cosin"})
    with pytest.raises(OptimConfigError, match="Did you mean 'warmup_steps'"):
        lr_scheduler_config_from_dict({"name": "noam", "warmup_step": 3})
    with pytest.raises(OptimConfigError, match="total_steps"):
        CosineConfig(total_steps=3, warmup_steps=3)
    with pytest.raises(OptimConfigError, match="stage_ratios"):
        TriStageConfig(total_steps=3, stage_ratios=(0.5, 0.5, 0.5))


def test_loading_state_applies_the_current_schedule() -> None:
    """A resumed run with a longer schedule must not keep the old schedule's final LR."""
    param = torch.nn.Parameter(torch.zeros(1))
    optimizer = create_optimizer(SGDConfig(lr=BASE_LR), [param])
    short = create_lr_scheduler(CosineConfig(total_steps=4), optimizer)
    for _ in range(4):
        optimizer.step()
        short.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0)

    longer = create_lr_scheduler(CosineConfig(total_steps=8), optimizer)
    longer.load_state_dict(short.state_dict())
    want = 0.5 * BASE_LR * (1 + math.cos(math.pi * 5 / 8))
    assert optimizer.param_groups[0]["lr"] == pytest.approx(want)
