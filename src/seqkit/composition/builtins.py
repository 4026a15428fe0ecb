"""Registration of every built-in component, in dependency order."""

from __future__ import annotations

from seqkit.composition.assets import register_assets
from seqkit.composition.cli import register_core_cli
from seqkit.composition.data import register_data
from seqkit.composition.gang import register_gang
from seqkit.composition.metrics import register_metrics
from seqkit.composition.models import register_models
from seqkit.composition.optim import register_optim
from seqkit.composition.recipes import register_recipes
from seqkit.composition.text import register_text
from seqkit.composition.trainer import register_trainer
from seqkit.runtime import DependencyContainer


def register_builtins(container: DependencyContainer) -> None:
    """Register every built-in factory, command and family."""
    register_core_cli(container)
    register_assets(container)
    register_data(container)
    register_text(container)
    register_models(container)
    register_gang(container)
    register_optim(container)
    register_metrics(container)
    register_trainer(container)
    register_recipes(container)
