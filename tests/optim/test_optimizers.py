from __future__ import annotations

import pytest
import torch

from seqkit.optim import (
    AdamWConfig,
    OptimConfigError,
    SGDConfig,
    create_optimizer,
    optimizer_config_from_dict,
)


def test_adamw_from_dict_matches_torch() -> None:
    config = optimizer_config_from_dict(
        {"name": "adamw", "lr": 1e-3, "betas": [0.8, 0.9], "weight_decay": 0.0}
    )
    assert config == AdamWConfig(lr=1e-3, betas=(0.8, 0.9), weight_decay=0.0)
    torch.manual_seed(0)
    a = torch.nn.Parameter(torch.randn(4))
    b = torch.nn.Parameter(a.detach().clone())
    ours = create_optimizer(config, [a])
    ref = torch.optim.AdamW([b], lr=1e-3, betas=(0.8, 0.9), weight_decay=0.0)
    for _ in range(3):
        for p, opt in ((a, ours), (b, ref)):
            opt.zero_grad()
            (p**2).sum().backward()
            opt.step()
    assert torch.equal(a, b)


def test_sgd_momentum() -> None:
    opt = create_optimizer(
        SGDConfig(lr=0.1, momentum=0.9, nesterov=True), [torch.zeros(1, requires_grad=True)]
    )
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["nesterov"] is True


def test_invalid_configs_name_the_field() -> None:
    with pytest.raises(OptimConfigError, match="Did you mean 'adamw'"):
        optimizer_config_from_dict({"name": "adam_w"})
    with pytest.raises(OptimConfigError, match="Did you mean 'weight_decay'"):
        optimizer_config_from_dict({"name": "sgd", "weight_decy": 0.1})
    with pytest.raises(OptimConfigError, match="lr"):
        AdamWConfig(lr=0.0)
    with pytest.raises(OptimConfigError, match="momentum"):
        SGDConfig(nesterov=True)
