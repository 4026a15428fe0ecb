"""Consolidated optimizer state in one process (FSDP ranks: tests/trainer/)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.gang import FakeGang, ShardingError
from seqkit.gang.optimizer_state import (
    get_consolidated_optimizer_state,
    is_consolidated_optimizer_state,
    load_consolidated_optimizer_state,
)


def _model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _trained(model: nn.Module, steps: int = 3) -> torch.optim.Optimizer:
    optimizer = torch.optim.AdamW(
        [
            {"params": [model[0].weight, model[0].bias], "lr": 1e-2},
            {"params": [model[2].weight, model[2].bias], "lr": 1e-3, "weight_decay": 0.0},
        ]
    )
    for step in range(steps):
        torch.manual_seed(step)
        model(torch.randn(5, 4)).square().mean().backward()
        optimizer.step()
        optimizer.zero_grad()
    return optimizer


def _step(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    torch.manual_seed(99)
    model(torch.randn(5, 4)).square().mean().backward()
    optimizer.step()
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_round_trip_continues_identically() -> None:
    model = _model()
    optimizer = _trained(model)
    saved = get_consolidated_optimizer_state(model, optimizer, FakeGang())
    assert is_consolidated_optimizer_state(saved)
    assert set(saved["state"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}  # type: ignore[arg-type]
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    expected = _step(model, optimizer)

    restored = _model()
    restored.load_state_dict(weights)
    fresh = torch.optim.AdamW(
        [
            {"params": [restored[0].weight, restored[0].bias], "lr": 0.5},
            {"params": [restored[2].weight, restored[2].bias], "lr": 0.5},
        ]
    )
    load_consolidated_optimizer_state(restored, fresh, saved)
    assert [g["lr"] for g in fresh.param_groups] == [1e-2, 1e-3]  # hyperparameters restored
    assert fresh.param_groups[1]["weight_decay"] == 0.0
    got = _step(restored, fresh)
    for name, value in expected.items():
        assert torch.equal(got[name], value), name


def test_mismatched_parameters_are_named() -> None:
    model = _model()
    saved = get_consolidated_optimizer_state(model, _trained(model), FakeGang())
    other = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2), nn.Linear(2, 2))
    optimizer = torch.optim.AdamW(
        [
            {"params": [other[0].weight, other[0].bias]},
            {"params": [other[2].weight, other[2].bias, other[3].weight]},
        ]
    )
    with pytest.raises(ShardingError, match=r"group 1 .*missing \['3.weight'\]"):
        load_consolidated_optimizer_state(other, optimizer, saved)


def test_plain_optimizer_state_is_refused() -> None:
    model = _model()
    optimizer = _trained(model)
    with pytest.raises(ShardingError, match="Not a consolidated"):
        load_consolidated_optimizer_state(model, optimizer, optimizer.state_dict())


def test_parameter_outside_the_model_is_refused() -> None:
    model = _model()
    stray = nn.Parameter(torch.zeros(3))
    optimizer = torch.optim.SGD([*model.parameters(), stray], lr=0.1)
    with pytest.raises(ShardingError, match="not in the model"):
        get_consolidated_optimizer_state(model, optimizer, FakeGang())
