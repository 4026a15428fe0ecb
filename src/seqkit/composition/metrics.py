"""Registrations of `seqkit.metrics`: the metric recorders every training run gets."""

from __future__ import annotations

from seqkit.metrics.recorders import BUILTIN_RECORDERS, MetricRecorders, RecorderFactory
from seqkit.runtime import DependencyContainer, DependencyResolver


def _recorders(resolver: DependencyResolver) -> MetricRecorders:
    # Resolved lazily so that recorders registered later by extensions are included.
    return MetricRecorders(factory for _, factory in resolver.resolve_all(RecorderFactory))


def register_metrics(container: DependencyContainer) -> None:
    """Register the console, JSONL and TensorBoard recorders keyed by name."""
    for factory in BUILTIN_RECORDERS:
        container.register_instance(RecorderFactory, factory, key=factory.name)
    container.register(MetricRecorders, _recorders)
