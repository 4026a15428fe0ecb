"""Optimizers built from config: AdamW and SGD (torch's implementations)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Final, Generic, TypeVar, final

import torch
from torch import Tensor
from torch.optim import Optimizer

from seqkit.optim.config_dict import config_from_dict
from seqkit.optim.errors import OptimConfigError

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class AdamWConfig:
    """Decoupled weight-decay Adam (Loshchilov & Hutter, 2019)."""

    name: ClassVar[str] = "adamw"

    lr: float = 3e-4
    """Peak learning rate; schedulers scale it."""

    betas: tuple[float, float] = (0.9, 0.95)
    """Decay rates of the first and second moment estimates."""

    eps: float = 1e-8
    """Added to the denominator for numerical stability."""

    weight_decay: float = 0.1
    """Decoupled weight decay coefficient."""

    fused: bool | None = None
    """One fused kernel for the whole update (``torch.optim.AdamW(fused=True)``): ``null``
    uses it when every parameter is on CUDA; ``true`` wherever torch has the kernel for
    the parameters' device (else the multi-tensor update, with a one-line warning);
    ``false`` never."""

    foreach: bool | None = None
    """The multi-tensor (``foreach``) update instead of a per-parameter loop; ``null``:
    torch's default (foreach on CUDA). Cannot be ``true`` together with ``fused: true``."""

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        if self.fused and self.foreach:
            raise OptimConfigError(
                "optimizer.fused and optimizer.foreach cannot both be true; pick one "
                "(fused is the faster where it is available).",
                field="fused",
            )
        if not all(0.0 <= b < 1.0 for b in self.betas) or len(self.betas) != 2:
            raise OptimConfigError(
                f"optimizer.betas must be two numbers in [0, 1), got {self.betas!r}.",
                field="betas",
            )
        if self.weight_decay < 0.0:
            raise OptimConfigError(
                f"optimizer.weight_decay must be >= 0, got {self.weight_decay}.",
                field="weight_decay",
            )


@dataclass(kw_only=True)
class SGDConfig:
    """Stochastic gradient descent with optional (Nesterov) momentum."""

    name: ClassVar[str] = "sgd"

    lr: float = 0.1
    """Peak learning rate; schedulers scale it."""

    momentum: float = 0.0
    """Momentum factor; 0 disables momentum."""

    nesterov: bool = False
    """Use Nesterov momentum (needs momentum > 0)."""

    weight_decay: float = 0.0
    """L2 penalty coefficient."""

    def __post_init__(self) -> None:
        _check_lr(self.lr)
        if self.nesterov and self.momentum <= 0.0:
            raise OptimConfigError(
                "optimizer.nesterov needs optimizer.momentum > 0; set momentum (e.g. 0.9) "
                "or nesterov: false.",
                field="nesterov",
            )


OptimizerConfig = AdamWConfig | SGDConfig

Params = Iterable[Tensor] | Iterable[dict[str, object]]
"""What a torch optimizer takes: tensors, or parameter groups."""

ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, kw_only=True)
class OptimizerType(Generic[ConfigT]):
    """A named optimizer: its config dataclass and how to build it.

    Register it in the container keyed by :attr:`name`, e.g.
    ``container.register_instance(OptimizerType, OptimizerType(name="lion", config=LionConfig,
    factory=create_lion), key="lion")``; recipes then accept ``optimizer: {name: lion, ...}``.
    """

    name: str
    """The ``name`` of ``optimizer: {name: ..., ...}`` in a config."""

    config: type[ConfigT]
    """A dataclass; the other keys of the config mapping are its fields."""

    factory: Callable[[ConfigT, Params], Optimizer]
    """Builds the optimizer over the parameters."""


@final
class Optimizers:
    """The optimizers a recipe may name, by name (built-ins plus extensions)."""

    def __init__(self, types: Iterable[OptimizerType[Any]]) -> None:
        self._types = {t.name: t for t in types}

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._types)

    def config_from_dict(self, data: Mapping[str, object]) -> object:
        """The config of ``{name: adamw, lr: ...}``; typos get a did-you-mean."""
        table = {name: t.config for name, t in self._types.items()}
        return config_from_dict(data, table, "optimizer")

    def create(self, config: object, params: Params) -> Optimizer:
        """The optimizer that ``config`` (a registered config dataclass) describes."""
        for kind in self._types.values():
            if type(config) is kind.config:
                return kind.factory(config, params)
        raise OptimConfigError(f"Unsupported optimizer config {type(config).__name__}.")


def _create_adamw(config: AdamWConfig, params: Params) -> Optimizer:
    items: list[object] = list(params)
    fused = _resolve_fused(config.fused, _param_devices(items))
    return torch.optim.AdamW(
        items,  # type: ignore[arg-type]
        lr=config.lr,
        betas=config.betas,
        eps=config.eps,
        weight_decay=config.weight_decay,
        fused=fused,
        foreach=None if fused else config.foreach,
    )


def _create_sgd(config: SGDConfig, params: Params) -> Optimizer:
    return torch.optim.SGD(
        params,
        lr=config.lr,
        momentum=config.momentum,
        nesterov=config.nesterov,
        weight_decay=config.weight_decay,
    )


ADAMW: Final = OptimizerType(name=AdamWConfig.name, config=AdamWConfig, factory=_create_adamw)
SGD: Final = OptimizerType(name=SGDConfig.name, config=SGDConfig, factory=_create_sgd)

BUILTIN_OPTIMIZERS: Final[tuple[OptimizerType[Any], ...]] = (ADAMW, SGD)
"""The optimizers seqkit registers in the container."""

_BUILTINS: Final = Optimizers(BUILTIN_OPTIMIZERS)

OPTIMIZER_CONFIGS: Final[Mapping[str, type[OptimizerConfig]]] = {
    AdamWConfig.name: AdamWConfig,
    SGDConfig.name: SGDConfig,
}
"""The built-in keys usable as ``optimizer: {name: ...}`` in YAML (extensions add theirs
in the container, see :class:`OptimizerType`)."""


def fused_optimizer_devices() -> frozenset[str]:
    """Device types for which torch has fused optimizer kernels (CUDA at least)."""
    try:
        from torch.utils._foreach_utils import _get_fused_kernels_supported_devices

        return frozenset(_get_fused_kernels_supported_devices())
    except ImportError:  # pragma: no cover - private API moved
        return frozenset({"cuda"})


def _param_devices(params: list[object]) -> set[str]:
    devices: set[str] = set()
    for item in params:
        group = item["params"] if isinstance(item, dict) else [item]
        for tensor in group if isinstance(group, list | tuple) else [group]:
            if isinstance(tensor, Tensor):
                devices.add(tensor.device.type)
    return devices


def _resolve_fused(fused: bool | None, devices: set[str]) -> bool | None:
    """``fused`` for torch.optim.AdamW: auto on CUDA, a clear fallback where unsupported."""
    if fused is False or not devices:
        return None
    if fused is None:
        return True if devices == {"cuda"} else None
    unsupported = sorted(devices - fused_optimizer_devices())
    if unsupported:
        log.warning(
            "optimizer.fused: torch has no fused AdamW for %s parameters; using the "
            "multi-tensor update instead.",
            "/".join(unsupported),
        )
        return None
    return True


def _check_lr(lr: float) -> None:
    if not lr > 0.0:
        raise OptimConfigError(f"optimizer.lr must be > 0, got {lr}.", field="lr")


def optimizer_config_from_dict(data: Mapping[str, object]) -> OptimizerConfig:
    """Build a built-in optimizer config from ``{name: adamw, lr: ...}`` (did-you-mean on
    typos). Recipes use the container's :class:`Optimizers`, which knows extensions too."""
    return config_from_dict(data, OPTIMIZER_CONFIGS, "optimizer")


def create_optimizer(config: OptimizerConfig, params: Params) -> Optimizer:
    """Create the torch optimizer that the built-in ``config`` describes over ``params``."""
    return _BUILTINS.create(config, params)
