"""Registrations of `seqkit.recipes`: presets, recipes and the ``lm``/``mt`` commands."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from seqkit.assets import AssetStore
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.commands.chat import LmChatCommand
from seqkit.cli.commands.lm import (
    LmEvalCommand,
    LmFinetuneCommand,
    LmGenerateCommand,
    LmPreferenceCommand,
    LmTrainCommand,
)
from seqkit.cli.commands.mt import MtEvalCommand, MtTrainCommand, MtTranslateCommand
from seqkit.config import PresetRegistry
from seqkit.metrics.recorders import MetricRecorders
from seqkit.models import ModelFamilies, ModelHub
from seqkit.optim import LRSchedulers, Optimizers
from seqkit.recipes.lm.finetune import LmFinetuneRecipe
from seqkit.recipes.lm.inference import LmEvaluator, LmGenerator
from seqkit.recipes.lm.preference import LmPreferenceRecipe
from seqkit.recipes.lm.presets import lm_finetune_presets, lm_preference_presets, lm_train_presets
from seqkit.recipes.lm.train import LmTrainRecipe
from seqkit.recipes.mt.inference import MtTranslator
from seqkit.recipes.mt.presets import mt_train_presets
from seqkit.recipes.mt.train import MtTrainRecipe
from seqkit.recipes.skeleton import TrainingRecipe
from seqkit.runtime import DependencyContainer, DependencyResolver
from seqkit.text import TokenizerHub

RecipeT = TypeVar("RecipeT", bound=TrainingRecipe[Any, Any])


def _training_recipe(kind: type[RecipeT]) -> Callable[[DependencyResolver], RecipeT]:
    """The factory of a training recipe: every one takes the same collaborators."""

    def create(resolver: DependencyResolver) -> RecipeT:
        return kind(
            tokenizer_hub=resolver.resolve(TokenizerHub),
            model_families=resolver.resolve(ModelFamilies),
            model_hub=resolver.resolve(ModelHub),
            optimizers=resolver.resolve(Optimizers),
            lr_schedulers=resolver.resolve(LRSchedulers),
            recorders=resolver.resolve(MetricRecorders),
        )

    return create


def _lm_generator(resolver: DependencyResolver) -> LmGenerator:
    return LmGenerator(
        model_hub=resolver.resolve(ModelHub), tokenizer_hub=resolver.resolve(TokenizerHub)
    )


def _lm_evaluator(resolver: DependencyResolver) -> LmEvaluator:
    return LmEvaluator(
        model_hub=resolver.resolve(ModelHub), tokenizer_hub=resolver.resolve(TokenizerHub)
    )


def _mt_translator(resolver: DependencyResolver) -> MtTranslator:
    return MtTranslator(
        model_hub=resolver.resolve(ModelHub),
        tokenizer_hub=resolver.resolve(TokenizerHub),
        asset_store=resolver.resolve(AssetStore),
    )


def register_recipes(container: DependencyContainer) -> None:
    """Register the recipes' presets (keyed by recipe), recipes and CLI commands.

    Presets are keyed ``PresetRegistry`` registrations; an extension adds a preset with
    ``container.resolve(PresetRegistry, "lm.train").register(name, factory, description)``.
    Recipes are resolved only when a command runs, so ``seqkit --help`` stays fast.
    """
    container.register(PresetRegistry, lambda _: lm_train_presets(), key="lm.train")
    container.register(PresetRegistry, lambda _: lm_finetune_presets(), key="lm.finetune")
    container.register(LmTrainRecipe, _training_recipe(LmTrainRecipe))
    container.register(LmFinetuneRecipe, _training_recipe(LmFinetuneRecipe))
    container.register(PresetRegistry, lambda _: lm_preference_presets(), key="lm.preference")
    container.register(LmPreferenceRecipe, _training_recipe(LmPreferenceRecipe))
    container.register(LmGenerator, _lm_generator)
    container.register(LmEvaluator, _lm_evaluator)
    container.register(PresetRegistry, lambda _: mt_train_presets(), key="mt.train")
    container.register(MtTrainRecipe, _training_recipe(MtTrainRecipe))
    container.register(MtTranslator, _mt_translator)

    container.register_instance(
        CliGroup, CliGroup(name="lm", help="train and use decoder-only language models"), key="lm"
    )
    container.register(
        CliCommand,
        lambda r: LmTrainCommand(
            r.resolve(PresetRegistry, "lm.train"), lambda: r.resolve(LmTrainRecipe)
        ),
        key="lm.train",
    )
    container.register(
        CliCommand,
        lambda r: LmFinetuneCommand(
            r.resolve(PresetRegistry, "lm.finetune"), lambda: r.resolve(LmFinetuneRecipe)
        ),
        key="lm.finetune",
    )
    container.register(
        CliCommand,
        lambda r: LmPreferenceCommand(
            r.resolve(PresetRegistry, "lm.preference"), lambda: r.resolve(LmPreferenceRecipe)
        ),
        key="lm.preference-finetune",
    )
    container.register(
        CliCommand, lambda r: LmGenerateCommand(lambda: r.resolve(LmGenerator)), key="lm.generate"
    )
    container.register(
        CliCommand, lambda r: LmEvalCommand(lambda: r.resolve(LmEvaluator)), key="lm.eval"
    )
    container.register(
        CliCommand,
        lambda r: LmChatCommand(lambda: r.resolve(ModelHub), lambda: r.resolve(TokenizerHub)),
        key="lm.chat",
    )

    container.register_instance(
        CliGroup, CliGroup(name="mt", help="train and use translation models"), key="mt"
    )
    container.register(
        CliCommand,
        lambda r: MtTrainCommand(
            r.resolve(PresetRegistry, "mt.train"), lambda: r.resolve(MtTrainRecipe)
        ),
        key="mt.train",
    )
    container.register(
        CliCommand,
        lambda r: MtTranslateCommand(lambda: r.resolve(MtTranslator)),
        key="mt.translate",
    )
    container.register(
        CliCommand, lambda r: MtEvalCommand(lambda: r.resolve(MtTranslator)), key="mt.eval"
    )
