"""``seqkit lm finetune``: supervised fine-tuning with the loss on responses only."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import final

from torch import nn
from typing_extensions import override

from seqkit.data import MaskedBatch
from seqkit.recipes.data_prep import DataPreparation
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, report_run
from seqkit.recipes.lm.config import LmFinetuneConfig
from seqkit.recipes.lm.finetune_data import finetune_readers, prepare_finetune_data
from seqkit.recipes.lm.instructions import format_prompt
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.lm.units import lm_loss
from seqkit.recipes.loss_units import LossFn
from seqkit.recipes.model_ref import resolve_model_ref
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import ModelSection, TokenizerSection
from seqkit.recipes.skeleton import RecipeData, TrainingRecipe
from seqkit.recipes.tokenizer_setup import RunTokenizer, prepare_tokenizer


@final
class LmFinetuneRecipe(TrainingRecipe[LmFinetuneConfig, MaskedBatch]):
    """Pretrained model + its tokenizer -> masked instruction batches -> trainer."""

    name = "lm.finetune"
    task = "lm"

    @override
    def check(self, config: LmFinetuneConfig) -> None:
        if config.model.checkpoint is None:
            raise RecipeError(
                "lm finetune needs a model to start from: set model.checkpoint to a card "
                "name, a card file or a run directory (e.g. --config "
                "model.checkpoint=runs/bible/card.yaml)."
            )
        if not config.data.train_files:
            raise RecipeError(
                "No training data: set data.train_files to JSONL files, e.g. "
                "--config 'data.train_files=[sft.jsonl]'."
            )

    def _ref(self, config: LmFinetuneConfig) -> str:
        assert config.model.checkpoint is not None
        return resolve_model_ref(config.model.checkpoint)

    @override
    def model_section(self, config: LmFinetuneConfig) -> ModelSection:
        return replace(config.model, checkpoint=self._ref(config))

    @override
    def tokenizer(self, ctx: RunContext, config: LmFinetuneConfig) -> RunTokenizer:
        section = TokenizerSection(name=self._ref(config))
        return prepare_tokenizer(ctx, section, self._tokenizer_hub, corpora=[])

    @override
    def data(
        self, ctx: RunContext, config: LmFinetuneConfig, prep: DataPreparation
    ) -> RecipeData[MaskedBatch]:
        prepared = prepare_finetune_data(prep, config.data, seed=config.train.seed)
        pad = prep.tokenizer.vocab_info.pad_idx
        train, valid = finetune_readers(ctx, prepared, config.train, pad if pad is not None else 0)
        num_train = sum(ds.num_documents for ds in prepared.train)
        num_valid = sum(ds.num_documents for ds in prepared.valid)
        return RecipeData(
            train=train,
            valid=valid,
            prepared=prepared,
            forced={"vocab_size": prep.tokenizer.vocab_info.size},
            description=(
                f"fine-tuning {self._ref(config)} on {num_train} examples ({num_valid} held out)."
            ),
        )

    @override
    def losses(
        self, ctx: RunContext, config: LmFinetuneConfig
    ) -> tuple[LossFn[MaskedBatch], LossFn[MaskedBatch]]:
        loss = partial(lm_loss, device=ctx.device)
        return loss, loss

    @override
    def card_extra(self, config: LmFinetuneConfig) -> dict[str, object]:
        return {"prompt_template": config.data.prompt_template, "finetuned_from": self._ref(config)}

    @override
    def after_training(
        self,
        ctx: RunContext,
        config: LmFinetuneConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        template = config.data.prompt_template
        example_prompt = format_prompt(template, "Who was Moses?")
        report_run(ctx, result, usage=[f"seqkit lm generate {result.card_path} {example_prompt!r}"])
        if ctx.is_main and config.sample.prompts:
            prompts = [format_prompt(template, p) for p in config.sample.prompts]
            sample = replace(config.sample, prompts=prompts)
            print_samples(model, tokenizer.tokenizer, sample, seed=config.train.seed)
