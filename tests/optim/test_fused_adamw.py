"""`fused`/`foreach` AdamW options: passed to torch where supported, a clear fallback."""

from __future__ import annotations

import logging

import pytest
import torch

from seqkit.optim import (
    AdamWConfig,
    OptimConfigError,
    create_optimizer,
    optimizer_config_from_dict,
    optimizers,
)


def _params() -> list[torch.nn.Parameter]:
    torch.manual_seed(0)
    return [torch.nn.Parameter(torch.randn(5, 3)), torch.nn.Parameter(torch.randn(3))]


def _train(opt: torch.optim.Optimizer, params: list[torch.nn.Parameter]) -> None:
    for _ in range(3):
        opt.zero_grad()
        sum((p**2).sum() for p in params).backward()  # type: ignore[union-attr]
        opt.step()


def test_auto_is_not_fused_on_cpu() -> None:
    opt = create_optimizer(AdamWConfig(), _params())
    assert not opt.param_groups[0]["fused"]


def test_foreach_is_passed() -> None:
    opt = create_optimizer(
        optimizer_config_from_dict({"name": "adamw", "foreach": False}), _params()
    )
    assert opt.param_groups[0]["foreach"] is False


def test_fused_and_foreach_conflict() -> None:
    with pytest.raises(OptimConfigError, match="cannot both be true"):
        AdamWConfig(fused=True, foreach=True)


@pytest.mark.skipif(
    "cpu" not in optimizers.fused_optimizer_devices(), reason="no fused CPU AdamW in this torch"
)
def test_fused_matches_the_plain_update_on_cpu() -> None:
    fused_params, plain_params = _params(), _params()
    fused = create_optimizer(AdamWConfig(fused=True, lr=1e-2), fused_params)
    plain = create_optimizer(AdamWConfig(fused=False, foreach=False, lr=1e-2), plain_params)
    assert fused.param_groups[0]["fused"] is True
    _train(fused, fused_params)
    _train(plain, plain_params)
    for a, b in zip(fused_params, plain_params, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_fused_falls_back_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(optimizers, "fused_optimizer_devices", lambda: frozenset({"cuda"}))
    with caplog.at_level(logging.WARNING, logger="seqkit.optim.optimizers"):
        opt = create_optimizer(AdamWConfig(fused=True), _params())
    assert not opt.param_groups[0]["fused"]
    assert [r.getMessage() for r in caplog.records] == [
        "optimizer.fused: torch has no fused AdamW for cpu parameters; using the "
        "multi-tensor update instead."
    ]


def test_param_groups_are_accepted() -> None:
    params = _params()
    opt = create_optimizer(AdamWConfig(fused=False), [{"params": params, "weight_decay": 0.0}])
    assert opt.param_groups[0]["weight_decay"] == 0.0
