"""``seqkit lm finetune``: supervised fine-tuning with the loss on responses only.

With ``lora.rank > 0`` the model gets LoRA adapters (:mod:`seqkit.nn.lora`) and only they
are trained (and only they are in the optimizer). Checkpoints hold the full model state
(frozen base weights and adapters: the trainer saves the model's whole state dict) and the
adapters' optimizer state. The saved model merges the adapters into the base weights:
``OUTPUT_DIR/model`` is a plain model that loads without LoRA.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import final

from torch import nn
from typing_extensions import override

from seqkit.data import MaskedBatch
from seqkit.nn.lora import LoRAConfig, apply_lora, lora_parameters, merge_lora
from seqkit.recipes.data_prep import DataPreparation
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, report_run
from seqkit.recipes.lm.config import LmFinetuneConfig, LoraSection
from seqkit.recipes.lm.finetune_data import finetune_readers, prepare_finetune_data
from seqkit.recipes.lm.instructions import format_prompt
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.lm.units import lm_loss
from seqkit.recipes.loss_units import LossFn
from seqkit.recipes.model_ref import resolve_model_ref
from seqkit.recipes.model_setup import num_parameters
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import ModelSection, TokenizerSection, TrainSection
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
        check_lora(config.lora, config.train)

    @override
    def prepare_model(self, ctx: RunContext, config: LmFinetuneConfig, model: nn.Module) -> None:
        add_lora(ctx, config.lora, model, seed=config.train.seed)

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
        extra: dict[str, object] = {
            "prompt_template": config.data.prompt_template,
            "finetuned_from": self._ref(config),
        }
        return extra | lora_card(config.lora)

    @override
    def after_training(
        self,
        ctx: RunContext,
        config: LmFinetuneConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        merge_lora(model)  # the saved model is merged already; now generation can fuse
        template = config.data.prompt_template
        example_prompt = format_prompt(template, "Who was Moses?")
        report_run(ctx, result, usage=[f"seqkit lm generate {result.card_path} {example_prompt!r}"])
        if ctx.is_main and config.sample.prompts:
            prompts = [format_prompt(template, p) for p in config.sample.prompts]
            sample = replace(config.sample, prompts=prompts)
            print_samples(model, tokenizer.tokenizer, sample, seed=config.train.seed)


def check_lora(lora: LoraSection, train: TrainSection) -> None:
    """Reject LoRA setups the recipes do not support (sharded models)."""
    if lora.enabled and (train.tp_size > 1 or train.data_parallel == "fsdp"):
        raise RecipeError(
            "LoRA (lora.rank > 0) runs on one process or under DDP only: set "
            "train.tp_size=1 and train.data_parallel=ddp, or lora.rank=0."
        )


def add_lora(ctx: RunContext, lora: LoraSection, model: nn.Module, *, seed: int) -> None:
    """Put adapters on ``model`` and freeze the rest when ``lora`` is enabled; say so."""
    if not lora.enabled:
        return
    config = LoRAConfig(
        rank=lora.rank, alpha=lora.alpha, dropout_p=lora.dropout, targets=tuple(lora.targets)
    )
    try:
        adapted = apply_lora(model, config, seed=seed)
    except ValueError as ex:
        raise RecipeError(f"Cannot add LoRA adapters: {ex}.") from ex
    trainable = sum(p.numel() for p in lora_parameters(model))
    total = num_parameters(model)
    ctx.say(
        f"LoRA: rank {lora.rank} adapters on {len(adapted)} projections "
        f"({', '.join(lora.targets)}); training {trainable / 1e6:.3f}M of "
        f"{total / 1e6:.2f}M parameters ({100 * trainable / total:.2f}%)."
    )


def lora_card(lora: LoraSection) -> dict[str, object]:
    """What the model card records of a LoRA run (nothing without LoRA)."""
    if not lora.enabled:
        return {}
    return {
        "lora": {
            "rank": lora.rank,
            "alpha": lora.alpha,
            "targets": list(lora.targets),
            "merged": True,
        }
    }
