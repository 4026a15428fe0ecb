"""``seqkit lm finetune``: supervised fine-tuning with the loss on responses only."""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import final

import numpy as np

from seqkit.models import ModelFamilies, ModelHub
from seqkit.recipes.batching import train_reader, valid_reader
from seqkit.recipes.cli_args import save_config
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, finish_run, report_run
from seqkit.recipes.lm.config import LmFinetuneConfig
from seqkit.recipes.lm.instructions import (
    MaskedExample,
    collate_masked,
    format_prompt,
    read_instruction_file,
    tokenize_example,
)
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.lm.units import lm_loss
from seqkit.recipes.loss_units import LossEvalUnit, LossTrainUnit
from seqkit.recipes.model_ref import resolve_model_ref
from seqkit.recipes.model_setup import build_model, num_parameters
from seqkit.recipes.parallelism import parallelize
from seqkit.recipes.run_context import RunContext, create_run_context
from seqkit.recipes.sections import TokenizerSection
from seqkit.recipes.tokenizer_setup import prepare_tokenizer
from seqkit.recipes.training import run_training
from seqkit.text import TextTokenizer, TokenizerHub


@final
class LmFinetuneRecipe:
    """Pretrained model + its tokenizer -> masked instruction batches -> trainer."""

    def __init__(
        self, *, tokenizer_hub: TokenizerHub, model_families: ModelFamilies, model_hub: ModelHub
    ) -> None:
        self._tokenizer_hub = tokenizer_hub
        self._families = model_families
        self._model_hub = model_hub

    def run(self, config: LmFinetuneConfig, output_dir: Path) -> RunResult:
        """Fine-tune (or resume) in ``output_dir``; print and return where the model is."""
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
        ref = resolve_model_ref(config.model.checkpoint)
        ctx = create_run_context(output_dir, config.train)
        ctx.main_first(lambda: save_config(config, output_dir))
        run_tokenizer = prepare_tokenizer(
            ctx, TokenizerSection(name=ref), self._tokenizer_hub, corpora=[]
        )
        tokenizer = run_tokenizer.tokenizer
        train_examples, valid_examples = self._examples(ctx, config, tokenizer)
        model = build_model(
            replace(config.model, checkpoint=ref),
            families=self._families,
            hub=self._model_hub,
            device=ctx.device,
            forced={"vocab_size": tokenizer.vocab_info.size},
        )
        model.train()
        family = str(getattr(model, "family", config.model.family))
        ctx.say(
            f"Fine-tuning {ref} ({num_parameters(model) / 1e6:.2f}M parameters) on "
            f"{len(train_examples)} examples ({len(valid_examples)} held out)."
        )
        pad = tokenizer.vocab_info.pad_idx
        pad_idx = pad if pad is not None else 0
        dp = ctx.gangs.dp

        reader = train_reader(
            dp,
            num_items=len(train_examples),
            batch_size=config.train.batch_size,
            seed=config.train.seed,
            make_batch=lambda idx: collate_masked([train_examples[i] for i in idx], pad_idx),
        )
        valid = valid_reader(
            dp,
            num_items=len(valid_examples),
            batch_size=config.train.batch_size,
            make_batch=lambda idx: collate_masked([valid_examples[i] for i in idx], pad_idx),
        )
        wrapped = parallelize(model, ctx, data_parallel=config.train.data_parallel)
        summary = run_training(
            ctx,
            model=model,
            unit=LossTrainUnit(wrapped, partial(lm_loss, device=ctx.device)),
            reader=reader,
            valid_unit=(
                LossEvalUnit(model, partial(lm_loss, device=ctx.device))
                if valid is not None
                else None
            ),
            valid_reader=valid,
            optim=config.optim,
            train=config.train,
            recipe="lm.finetune",
        )
        result = finish_run(
            ctx,
            model=model,
            tokenizer=run_tokenizer,
            family=family,
            task="lm",
            summary=summary,
            final_model=config.train.final_model,
            extra={"prompt_template": config.data.prompt_template, "finetuned_from": ref},
        )
        example_prompt = format_prompt(config.data.prompt_template, "Who was Moses?")
        report_run(
            ctx,
            result,
            usage=[f"seqkit lm generate {result.card_path} {example_prompt!r}"],
        )
        if ctx.is_main and config.sample.prompts:
            sample = replace(
                config.sample,
                prompts=[
                    format_prompt(config.data.prompt_template, p) for p in config.sample.prompts
                ],
            )
            print_samples(model, tokenizer, sample, seed=config.train.seed)
        return result

    def _examples(
        self, ctx: RunContext, config: LmFinetuneConfig, tokenizer: TextTokenizer
    ) -> tuple[list[MaskedExample], list[MaskedExample]]:
        vocab = tokenizer.vocab_info
        if vocab.bos_idx is None or vocab.eos_idx is None:
            raise RecipeError("Fine-tuning needs a tokenizer with BOS and EOS tokens.")
        bos_idx, eos_idx = vocab.bos_idx, vocab.eos_idx
        encoder = tokenizer.create_encoder(mode="default")

        def load(paths: list[Path]) -> tuple[list[MaskedExample], int]:
            examples, truncated = [], 0
            for path in paths:
                for segments in read_instruction_file(path, config.data.prompt_template):
                    example, cut = tokenize_example(
                        segments,
                        encoder.encode_ids,
                        bos_idx=bos_idx,
                        eos_idx=eos_idx,
                        max_len=config.data.max_seq_len,
                    )
                    truncated += cut
                    if any(example.loss_mask):
                        examples.append(example)
            return examples, truncated

        train, cut = load(config.data.train_files)
        if config.data.valid_files:
            valid, cut_valid = load(config.data.valid_files)
            cut += cut_valid
        elif config.data.valid_fraction > 0 and len(train) >= 10:
            order = np.random.default_rng(config.train.seed).permutation(len(train)).tolist()
            num_valid = max(1, int(len(train) * config.data.valid_fraction))
            valid = [train[i] for i in order[:num_valid]]
            train = [train[i] for i in sorted(order[num_valid:])]
        else:
            valid = []
        if cut:
            ctx.say(
                f"Truncated {cut} example(s) longer than data.max_seq_len="
                f"{config.data.max_seq_len} tokens."
            )
        return train, valid
