"""Registrations of `seqkit.optim`: the optimizers and LR schedulers recipes may name."""

from __future__ import annotations

from seqkit.optim import (
    BUILTIN_LR_SCHEDULERS,
    BUILTIN_OPTIMIZERS,
    LRSchedulers,
    LRSchedulerType,
    Optimizers,
    OptimizerType,
)
from seqkit.runtime import DependencyContainer, DependencyResolver


def _optimizers(resolver: DependencyResolver) -> Optimizers:
    # Resolved lazily so that optimizers registered later by extensions are included.
    return Optimizers(kind for _, kind in resolver.resolve_all(OptimizerType))


def _lr_schedulers(resolver: DependencyResolver) -> LRSchedulers:
    return LRSchedulers(kind for _, kind in resolver.resolve_all(LRSchedulerType))


def register_optim(container: DependencyContainer) -> None:
    """Register each built-in optimizer and LR scheduler keyed by its config name."""
    for optimizer in BUILTIN_OPTIMIZERS:
        container.register_instance(OptimizerType, optimizer, key=optimizer.name)
    for scheduler in BUILTIN_LR_SCHEDULERS:
        container.register_instance(LRSchedulerType, scheduler, key=scheduler.name)
    container.register(Optimizers, _optimizers)
    container.register(LRSchedulers, _lr_schedulers)
