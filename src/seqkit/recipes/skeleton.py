"""The one flow every training recipe follows, with hooks for what differs.

tokenizer -> data at rest (tokenized once) -> readers -> model -> parallelize ->
trainer -> final model, card and report. ``lm train``, ``lm finetune`` and ``mt train``
fill in the hooks; everything else is shared.
"""

from __future__ import annotations

import shutil
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from torch import nn

from seqkit.metrics.recorders import MetricRecorders
from seqkit.models import ModelFamilies, ModelHub
from seqkit.optim import LRSchedulers, OptimConfigError, Optimizers
from seqkit.recipes.cli_args import CONFIG_FILE_NAME, save_config
from seqkit.recipes.data_prep import DATA_DIR, DataPreparation, PreparedData
from seqkit.recipes.finish import RunResult, finish_run
from seqkit.recipes.loss_units import LossFn, LossUnit
from seqkit.recipes.model_setup import build_model, num_parameters
from seqkit.recipes.parallelism import parallelize
from seqkit.recipes.run_context import RunContext, create_run_context
from seqkit.recipes.run_lock import (
    OutputDirLock,
    changed_keys,
    check_resume_config,
    prepare_output_dir,
)
from seqkit.recipes.sections import ModelSection, OptimSection, TrainSection
from seqkit.recipes.tokenizer_setup import TOKENIZER_DIR, RunTokenizer
from seqkit.recipes.training import CHECKPOINT_DIR, run_training, scheduler_settings
from seqkit.text import TokenizerHub
from seqkit.trainer import DataReader, ValidationScorer

BatchT = TypeVar("BatchT")


class RecipeConfig(Protocol):
    """What the skeleton reads from every recipe config."""

    model: ModelSection
    optim: OptimSection
    train: TrainSection


ConfigT = TypeVar("ConfigT", bound=RecipeConfig)


@dataclass(kw_only=True)
class RecipeData(Generic[BatchT]):
    """The readers of a run and what the model must be built with."""

    train: DataReader[BatchT]
    """This rank's training reader."""

    valid: DataReader[BatchT] | None
    """This rank's validation reader, if the run validates."""

    prepared: PreparedData
    """The datasets behind the readers."""

    forced: dict[str, object] = field(default_factory=dict)
    """Model config fields the data decides (vocabulary size, padding id, length)."""

    description: str = ""
    """One sentence on the data, printed with the model size."""


class TrainingRecipe(ABC, Generic[ConfigT, BatchT]):
    """A training recipe: the shared flow of :meth:`run` and the hooks below."""

    name: str
    """Metric and error label, e.g. ``"lm.train"``."""

    task: str
    """The task written into the model card (``"lm"``, ``"translation"``)."""

    def __init__(
        self,
        *,
        tokenizer_hub: TokenizerHub,
        model_families: ModelFamilies,
        model_hub: ModelHub,
        optimizers: Optimizers,
        lr_schedulers: LRSchedulers,
        recorders: MetricRecorders,
    ) -> None:
        self._tokenizer_hub = tokenizer_hub
        self._families = model_families
        self._model_hub = model_hub
        self._optimizers = optimizers
        self._lr_schedulers = lr_schedulers
        self._recorders = recorders

    def validate(self, config: ConfigT) -> None:
        """Reject an optimizer or LR scheduler that is not registered, or settings it does
        not take (with a did-you-mean); ``seqkit ... --dump-config`` runs this too."""
        try:
            self._optimizers.config_from_dict(config.optim.optimizer)
            self._lr_schedulers.config_from_dict(
                scheduler_settings(config.optim, config.train, lambda _: None),
                total_steps=config.train.max_steps,
            )
        except OptimConfigError as ex:
            raise OptimConfigError(f"Config 'optim' is invalid: {ex}", field=ex.field) from ex

    def run(self, config: ConfigT, output_dir: Path) -> RunResult:
        """Train (or resume) in ``output_dir``; print and return where the model is."""
        self.validate(config)
        self.check(config)
        prepare_output_dir(output_dir)
        ctx = create_run_context(output_dir, config.train)
        lock = OutputDirLock(output_dir) if ctx.is_main else None
        try:
            return self._run(ctx, config, output_dir)
        finally:
            if lock is not None:
                lock.release()

    def _run(self, ctx: RunContext, config: ConfigT, output_dir: Path) -> RunResult:
        resumed = _has_checkpoints(output_dir)
        if resumed:
            check_resume_config(config, output_dir / CONFIG_FILE_NAME)
        else:
            ctx.main_first(lambda: _forget_stale_setup(ctx, config, output_dir))
            ctx.main_first(lambda: save_config(config, output_dir))
        run_tokenizer = self.tokenizer(ctx, config)
        prep = DataPreparation(ctx, run_tokenizer.tokenizer, run_tokenizer.path)
        data = self.data(ctx, config, prep)
        model = build_model(
            self.model_section(config),
            families=self._families,
            hub=self._model_hub,
            device=ctx.device,
            forced=data.forced,
        )
        self.prepare_model(ctx, config, model)
        model.train()
        if resumed:  # the allowed changes are recorded once the model is known to build
            ctx.main_first(lambda: save_config(config, output_dir))
        family = str(getattr(model, "family", config.model.family))
        ctx.say(
            f"Model: {family} with {num_parameters(model) / 1e6:.2f}M parameters; "
            f"{data.description}"
        )
        wrapped = parallelize(
            model,
            ctx,
            data_parallel=config.train.data_parallel,
            activation_checkpointing=config.train.activation_checkpointing,
            compile=config.train.compile,
            dtype=config.train.dtype,
        )
        train_loss, valid_loss = self.losses(ctx, config)
        scorers = self.valid_scorers(ctx, config, model, run_tokenizer, data)
        summary = run_training(
            ctx,
            model=model,
            unit=LossUnit(wrapped, train_loss),
            reader=data.train,
            valid_unit=LossUnit(model, valid_loss) if data.valid is not None else None,
            valid_reader=data.valid,
            optim=config.optim,
            train=config.train,
            recipe=self.name,
            optimizers=self._optimizers,
            lr_schedulers=self._lr_schedulers,
            recorders=self._recorders,
            run_config=config,
            valid_scorers=scorers,
        )
        result = finish_run(
            ctx,
            model=model,
            families=self._families,
            tokenizer=run_tokenizer,
            family=family,
            task=self.task,
            summary=summary,
            final_model=config.train.final_model,
            extra=self.card_extra(config),
        )
        self.after_training(ctx, config, model, run_tokenizer, result)
        return result

    def check(self, config: ConfigT) -> None:
        """Reject a config that cannot run, before any work (none by default)."""

    def model_section(self, config: ConfigT) -> ModelSection:
        """The model to build (the config's by default)."""
        return config.model

    def prepare_model(self, ctx: RunContext, config: ConfigT, model: nn.Module) -> None:
        """Change the built model in place before it is parallelized and trained, e.g. add
        LoRA adapters and freeze the rest (nothing by default). Runs before a checkpoint
        is loaded, so the model must take the shape its checkpoints were saved with."""

    @abstractmethod
    def tokenizer(self, ctx: RunContext, config: ConfigT) -> RunTokenizer:
        """Load (or train once) the run's tokenizer."""

    @abstractmethod
    def data(self, ctx: RunContext, config: ConfigT, prep: DataPreparation) -> RecipeData[BatchT]:
        """Prepare the data at rest (through ``prep``) and build this rank's readers."""

    @abstractmethod
    def losses(self, ctx: RunContext, config: ConfigT) -> tuple[LossFn[BatchT], LossFn[BatchT]]:
        """The training loss and the validation loss."""

    def valid_scorers(
        self,
        ctx: RunContext,
        config: ConfigT,
        model: nn.Module,
        tokenizer: RunTokenizer,
        data: RecipeData[BatchT],
    ) -> Sequence[ValidationScorer]:
        """Extra validation metrics (none by default)."""
        return ()

    def card_extra(self, config: ConfigT) -> dict[str, object] | None:
        """Extra fields for the model card (none by default)."""
        return None

    @abstractmethod
    def after_training(
        self,
        ctx: RunContext,
        config: ConfigT,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        """Report the result (usage, samples, scores)."""


def _has_checkpoints(output_dir: Path) -> bool:
    directory = output_dir / CHECKPOINT_DIR
    return directory.is_dir() and any(
        p.name.startswith("step_") and not p.name.endswith(".tmp") for p in directory.iterdir()
    )


def _forget_stale_setup(ctx: RunContext, config: object, output_dir: Path) -> None:
    """Before any checkpoint, a changed data or tokenizer setup makes the prepared data and
    trained tokenizer stale: remove them so they are made again from the new config."""
    changed = [
        k for k in changed_keys(config, output_dir / CONFIG_FILE_NAME)
        if k.startswith(("data.", "tokenizer.", "model.checkpoint", "train.seed"))
    ]  # fmt: skip
    if not changed:
        return
    ctx.say(f"The data setup changed ({', '.join(changed)}); preparing the data again.")
    for name in (DATA_DIR, TOKENIZER_DIR):
        shutil.rmtree(output_dir / name, ignore_errors=True)
