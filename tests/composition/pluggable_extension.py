"""A test extension that plugs a metric recorder, an optimizer and an LR scheduler into the
container, the way a wandb/MLflow or Lion extension would."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR, LRScheduler

from seqkit.metrics.recorders import (
    MetricRecorder,
    MetricValues,
    RecorderFactory,
    RecorderSettings,
)
from seqkit.optim import LRSchedulerType, OptimizerType, Params
from seqkit.runtime import DependencyContainer

RECORDS: list[tuple[str, int, dict[str, float | int]]] = []
"""What the memory recorder saw: (section, step, values)."""

SETTINGS: list[RecorderSettings] = []
"""The settings each created memory recorder was given."""

OPTIMIZERS: list[Optimizer] = []
"""The optimizers the plain_sgd factory built."""

SCHEDULERS: list[LRScheduler] = []
"""The schedulers the halving factory built."""

CLOSED: list[str] = []
"""Recorders closed at the end of a run."""


class MemoryRecorder(MetricRecorder):
    def record(self, section: str, step: int, values: MetricValues) -> None:
        RECORDS.append((section, step, dict(values)))

    def close(self) -> None:
        CLOSED.append("memory")


def create_memory_recorder(settings: RecorderSettings) -> MetricRecorder | None:
    SETTINGS.append(settings)
    return MemoryRecorder()


@dataclass(kw_only=True)
class PlainSGDConfig:
    name: ClassVar[str] = "plain_sgd"

    lr: float = 0.05
    momentum: float = 0.0


def create_plain_sgd(config: PlainSGDConfig, params: Params) -> Optimizer:
    optimizer = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    OPTIMIZERS.append(optimizer)
    return optimizer


@dataclass(kw_only=True)
class HalvingConfig:
    every: int = 1
    total_steps: int = 0
    """Filled in with train.max_steps when left out."""


def create_halving(config: HalvingConfig, optimizer: Optimizer) -> LRScheduler:
    scheduler = LambdaLR(optimizer, lambda step: 0.5 ** (step // config.every))
    SCHEDULERS.append(scheduler)
    return scheduler


def register(container: DependencyContainer) -> None:
    container.register_instance(
        RecorderFactory, RecorderFactory(name="memory", create=create_memory_recorder), key="memory"
    )
    container.register_instance(
        OptimizerType,
        OptimizerType(name="plain_sgd", config=PlainSGDConfig, factory=create_plain_sgd),
        key="plain_sgd",
    )
    container.register_instance(
        LRSchedulerType,
        LRSchedulerType(name="halving", config=HalvingConfig, factory=create_halving),
        key="halving",
    )
