"""Learning-rate schedulers, each a closed-form function of the step number.

Every scheduler here computes ``lr(t, base_lr)`` where ``t = last_epoch + 1`` is the
1-based number of the optimizer step about to run: the first step already gets a non-zero
warmup LR (``base_lr / warmup_steps``) instead of wasting a step at LR 0.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from typing import Any, ClassVar, Final, Generic, TypeVar, final

from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler
from typing_extensions import override

from seqkit.optim.config_dict import config_from_dict
from seqkit.optim.errors import OptimConfigError


def _check(ok: bool, field: str, message: str) -> None:
    if not ok:
        raise OptimConfigError(f"lr_scheduler.{field}: {message}", field=field)


@dataclass(kw_only=True)
class ConstantWarmupConfig:
    """Linear warmup from ``start_lr_scale * lr`` to ``lr``, then constant."""

    name: ClassVar[str] = "constant"

    warmup_steps: int = 0
    """Number of warmup steps (0 disables warmup)."""

    start_lr_scale: float = 0.0
    """Fraction of the peak LR that warmup starts from."""

    def __post_init__(self) -> None:
        _check(self.warmup_steps >= 0, "warmup_steps", "must be >= 0.")
        _check(0.0 <= self.start_lr_scale <= 1.0, "start_lr_scale", "must be in [0, 1].")


@dataclass(kw_only=True)
class CosineConfig:
    """Linear warmup, then cosine annealing from ``lr`` down to ``min_lr`` at ``total_steps``."""

    name: ClassVar[str] = "cosine"

    total_steps: int
    """Step at which the LR reaches ``min_lr`` (and stays there)."""

    warmup_steps: int = 0
    """Number of warmup steps."""

    min_lr: float = 0.0
    """LR at the end of the schedule."""

    def __post_init__(self) -> None:
        _check(self.warmup_steps >= 0, "warmup_steps", "must be >= 0.")
        _check(self.total_steps > self.warmup_steps, "total_steps", "must exceed warmup_steps.")
        _check(self.min_lr >= 0.0, "min_lr", "must be >= 0.")


@dataclass(kw_only=True)
class NoamConfig:
    """Inverse square root decay after linear warmup (Vaswani et al., 2017), peaking at ``lr``."""

    name: ClassVar[str] = "noam"

    warmup_steps: int
    """Number of warmup steps; the LR peaks at ``lr`` there."""

    def __post_init__(self) -> None:
        _check(self.warmup_steps > 0, "warmup_steps", "must be > 0 (the peak position).")


@dataclass(kw_only=True)
class PolynomialDecayConfig:
    """Linear warmup, then ``final_lr + (lr - final_lr) * (1 - progress) ** power``."""

    name: ClassVar[str] = "polynomial"

    total_steps: int
    """Step at which the LR reaches ``final_lr``."""

    warmup_steps: int = 0
    """Number of warmup steps."""

    power: float = 1.0
    """Exponent of the decay; 1 is linear decay."""

    final_lr: float = 0.0
    """LR at and after ``total_steps``."""

    def __post_init__(self) -> None:
        _check(self.warmup_steps >= 0, "warmup_steps", "must be >= 0.")
        _check(self.total_steps > self.warmup_steps, "total_steps", "must exceed warmup_steps.")
        _check(self.power > 0.0, "power", "must be > 0.")


@dataclass(kw_only=True)
class TriStageConfig:
    """Warmup, hold, exponential decay (Park et al., 2019, SpecAugment)."""

    name: ClassVar[str] = "tri_stage"

    total_steps: int
    """Length of the three stages together."""

    stage_ratios: tuple[float, float, float] = (0.1, 0.4, 0.5)
    """Fractions of ``total_steps`` spent warming up, holding and decaying; sum to 1."""

    start_lr_scale: float = 0.01
    """Warmup starts at ``start_lr_scale * lr``."""

    final_lr_scale: float = 0.05
    """Decay ends at (and stays at) ``final_lr_scale * lr``."""

    def __post_init__(self) -> None:
        _check(self.total_steps > 0, "total_steps", "must be > 0.")
        _check(
            len(self.stage_ratios) == 3 and abs(sum(self.stage_ratios) - 1.0) < 1e-6,
            "stage_ratios",
            f"must be three fractions summing to 1, got {self.stage_ratios!r}.",
        )
        _check(self.start_lr_scale > 0.0, "start_lr_scale", "must be > 0.")
        _check(self.final_lr_scale > 0.0, "final_lr_scale", "must be > 0.")


LRSchedulerConfig = (
    ConstantWarmupConfig | CosineConfig | NoamConfig | PolynomialDecayConfig | TriStageConfig
)

LR_SCHEDULER_CONFIGS: Final[Mapping[str, type[LRSchedulerConfig]]] = {
    c.name: c
    for c in (ConstantWarmupConfig, CosineConfig, NoamConfig, PolynomialDecayConfig, TriStageConfig)
}
"""Registry keys usable as ``lr_scheduler: {name: ...}`` in YAML."""


def lr_scheduler_config_from_dict(data: Mapping[str, object]) -> LRSchedulerConfig:
    """Build a scheduler config from ``{name: cosine, total_steps: ...}``."""
    return config_from_dict(data, LR_SCHEDULER_CONFIGS, "lr_scheduler")


def _warmup(t: int, warmup: int, base_lr: float, start_lr: float) -> float:
    return start_lr + (base_lr - start_lr) * t / warmup


class FormulaLRScheduler(LRScheduler):
    """An LR scheduler whose LR is ``lr_at(t, base_lr)`` for the 1-based step ``t``.

    Its state (plain numbers) round-trips through ``torch.load(weights_only=True)``.
    """

    def __init__(self, optimizer: Optimizer, config: LRSchedulerConfig) -> None:
        self.config = config
        super().__init__(optimizer)

    @abstractmethod
    def lr_at(self, t: int, base_lr: float) -> float:
        """The LR of the ``t``-th optimizer step (1-based) for a group peaking at ``base_lr``."""

    @override
    def get_lr(self) -> list[float | Tensor]:
        t = self.last_epoch + 1
        return [self.lr_at(t, float(base_lr)) for base_lr in self.base_lrs]

    @override
    def state_dict(self) -> dict[str, object]:
        state = super().state_dict()
        state.pop("config", None)  # rebuilt from the run's config, not stored as an object
        return state

    @override
    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the step count, then apply this schedule's LR for the next step.

        The optimizer's saved LR came from the schedule the checkpoint was written with; if
        the run's schedule changed (e.g. a longer ``total_steps``) the next step must use
        the new one. With an unchanged schedule this writes the very same values.
        """
        super().load_state_dict(state_dict)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr(), strict=True):
            group["lr"] = lr
        self._last_lr = [float(group["lr"]) for group in self.optimizer.param_groups]


class ConstantWarmupLR(FormulaLRScheduler):
    """See :class:`ConstantWarmupConfig`."""

    config: ConstantWarmupConfig

    @override
    def lr_at(self, t: int, base_lr: float) -> float:
        c = self.config
        if t <= c.warmup_steps:
            return _warmup(t, c.warmup_steps, base_lr, c.start_lr_scale * base_lr)
        return base_lr


class CosineLR(FormulaLRScheduler):
    """See :class:`CosineConfig`."""

    config: CosineConfig

    @override
    def lr_at(self, t: int, base_lr: float) -> float:
        c = self.config
        if t <= c.warmup_steps:
            return _warmup(t, c.warmup_steps, base_lr, 0.0)
        progress = min(1.0, (t - c.warmup_steps) / (c.total_steps - c.warmup_steps))
        return c.min_lr + (base_lr - c.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class NoamLR(FormulaLRScheduler):
    """See :class:`NoamConfig`."""

    config: NoamConfig

    @override
    def lr_at(self, t: int, base_lr: float) -> float:
        w = self.config.warmup_steps
        return base_lr * min(t / w, math.sqrt(w / t))


class PolynomialDecayLR(FormulaLRScheduler):
    """See :class:`PolynomialDecayConfig`."""

    config: PolynomialDecayConfig

    @override
    def lr_at(self, t: int, base_lr: float) -> float:
        c = self.config
        if t <= c.warmup_steps:
            return _warmup(t, c.warmup_steps, base_lr, 0.0)
        progress = min(1.0, (t - c.warmup_steps) / (c.total_steps - c.warmup_steps))
        return c.final_lr + (base_lr - c.final_lr) * float((1.0 - progress) ** c.power)


class TriStageLR(FormulaLRScheduler):
    """See :class:`TriStageConfig`."""

    config: TriStageConfig

    @override
    def lr_at(self, t: int, base_lr: float) -> float:
        c = self.config
        warmup, hold, decay = (round(r * c.total_steps) for r in c.stage_ratios)
        if t <= warmup:
            return _warmup(t, warmup, base_lr, c.start_lr_scale * base_lr)
        if t <= warmup + hold:
            return base_lr
        if t <= warmup + hold + decay:
            progress = (t - warmup - hold) / decay
            return base_lr * float(c.final_lr_scale**progress)
        return base_lr * c.final_lr_scale


ConfigT = TypeVar("ConfigT")


@dataclass(frozen=True, kw_only=True)
class LRSchedulerType(Generic[ConfigT]):
    """A named LR scheduler: its config dataclass and how to build it.

    Register it in the container keyed by :attr:`name` (``container.register_instance(
    LRSchedulerType, LRSchedulerType(name=..., config=..., factory=...), key=...)``);
    recipes then accept ``lr_scheduler: {name: ..., ...}``. A config with a field
    ``total_steps`` gets ``train.max_steps`` when the config leaves it out.
    """

    name: str
    """The ``name`` of ``lr_scheduler: {name: ..., ...}`` in a config."""

    config: type[ConfigT]
    """A dataclass; the other keys of the config mapping are its fields."""

    factory: Callable[[ConfigT, Optimizer], LRScheduler]
    """Builds the scheduler over an optimizer (whose ``lr`` is the peak LR)."""


@final
class LRSchedulers:
    """The LR schedulers a recipe may name, by name (built-ins plus extensions)."""

    def __init__(self, types: Iterable[LRSchedulerType[Any]]) -> None:
        self._types = {t.name: t for t in types}

    def names(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._types)

    def config_from_dict(
        self, data: Mapping[str, object], *, total_steps: int | None = None
    ) -> object:
        """The config of ``{name: cosine, ...}``; typos get a did-you-mean. ``total_steps``
        fills in the field of that name when the scheduler has one and ``data`` lacks it."""
        table = {name: t.config for name, t in self._types.items()}
        data = dict(data)
        kind = table.get(str(data.get("name")))
        if total_steps is not None and kind is not None and _has_field(kind, "total_steps"):
            data.setdefault("total_steps", total_steps)
        return config_from_dict(data, table, "lr_scheduler")

    def create(self, config: object, optimizer: Optimizer) -> LRScheduler:
        """The scheduler that ``config`` (a registered config dataclass) describes."""
        for kind in self._types.values():
            if type(config) is kind.config:
                return kind.factory(config, optimizer)
        raise OptimConfigError(f"Unsupported LR scheduler config {type(config).__name__}.")


def _has_field(kind: type[object], name: str) -> bool:
    return is_dataclass(kind) and any(f.name == name for f in fields(kind))


_SCHEDULERS: Final[Mapping[type[LRSchedulerConfig], type[FormulaLRScheduler]]] = {
    ConstantWarmupConfig: ConstantWarmupLR,
    CosineConfig: CosineLR,
    NoamConfig: NoamLR,
    PolynomialDecayConfig: PolynomialDecayLR,
    TriStageConfig: TriStageLR,
}


def _formula_factory(
    scheduler: type[FormulaLRScheduler],
) -> Callable[[Any, Optimizer], LRScheduler]:
    return lambda config, optimizer: scheduler(optimizer, config)


BUILTIN_LR_SCHEDULERS: Final[tuple[LRSchedulerType[Any], ...]] = tuple(
    LRSchedulerType(name=config.name, config=config, factory=_formula_factory(scheduler))
    for config, scheduler in _SCHEDULERS.items()
)
"""The LR schedulers seqkit registers in the container."""


def create_lr_scheduler(config: LRSchedulerConfig, optimizer: Optimizer) -> FormulaLRScheduler:
    """Create the built-in scheduler ``config`` describes; the optimizer's ``lr`` is the peak
    LR. Recipes use the container's :class:`LRSchedulers`, which knows extensions too."""
    kind = _SCHEDULERS.get(type(config))
    if kind is None:
        raise OptimConfigError(f"Unsupported LR scheduler config {type(config).__name__}.")
    return kind(optimizer, config)
