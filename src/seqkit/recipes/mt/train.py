"""``seqkit mt train``: encoder-decoder translation training on parallel text."""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path
from typing import final

import torch
from torch import nn

from seqkit.models import ModelFamilies, ModelHub
from seqkit.recipes.batching import train_reader, valid_reader
from seqkit.recipes.cli_args import save_config
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, finish_run, report_run
from seqkit.recipes.loss_units import LossEvalUnit, LossTrainUnit
from seqkit.recipes.model_setup import build_model, num_parameters
from seqkit.recipes.mt.config import MtTrainConfig
from seqkit.recipes.mt.parallel_data import (
    collate_pairs,
    read_aligned,
    read_pairs,
    split_valid,
    tokenize_pairs,
)
from seqkit.recipes.mt.scoring import create_translator
from seqkit.recipes.mt.units import translation_loss
from seqkit.recipes.mt.valid_bleu import BleuScorer
from seqkit.recipes.parallelism import parallelize
from seqkit.recipes.run_context import RunContext, create_run_context
from seqkit.recipes.tokenizer_setup import RunTokenizer, prepare_tokenizer
from seqkit.recipes.training import run_training
from seqkit.text import TextTokenizer, TokenizerHub


@final
class MtTrainRecipe:
    """Joint tokenizer -> tokenized pairs -> transformer -> trainer (validation loss, BLEU
    and chrF) -> the final model's BLEU on held-out pairs."""

    def __init__(
        self, *, tokenizer_hub: TokenizerHub, model_families: ModelFamilies, model_hub: ModelHub
    ) -> None:
        self._tokenizer_hub = tokenizer_hub
        self._families = model_families
        self._model_hub = model_hub

    def run(self, config: MtTrainConfig, output_dir: Path) -> RunResult:
        """Train (or resume) in ``output_dir``; score BLEU; print where the model is."""
        data = config.data
        ctx = create_run_context(output_dir, config.train)
        ctx.main_first(lambda: save_config(config, output_dir))
        pairs = read_pairs(data)
        if data.valid_source_file is not None and data.valid_target_file is not None:
            train_pairs = pairs
            valid_pairs = read_aligned(data.valid_source_file, data.valid_target_file)
        else:
            train_pairs, valid_pairs = split_valid(pairs, data.valid_size, config.train.seed)
        run_tokenizer = self._tokenizer(ctx, config, train_pairs)
        tokenizer = run_tokenizer.tokenizer
        train_tok = tokenize_pairs(train_pairs, tokenizer, data)
        valid_tok = tokenize_pairs(valid_pairs, tokenizer, data)
        if train_tok.num_skipped or valid_tok.num_skipped:
            ctx.say(
                f"Skipped {train_tok.num_skipped} training and {valid_tok.num_skipped} "
                f"validation pair(s) longer than data.max_seq_len={data.max_seq_len} tokens."
            )
        vocab = tokenizer.vocab_info
        pad_idx = vocab.pad_idx if vocab.pad_idx is not None else 0
        longest = max(max(map(len, train_tok.sources)), max(map(len, train_tok.targets)))
        forced: dict[str, object] = {"vocab_size": vocab.size, "pad_idx": pad_idx}
        if config.model.checkpoint is None:
            forced["max_seq_len"] = max(longest, config.bleu.max_gen_len + 2, data.max_seq_len + 2)
        model = build_model(
            config.model,
            families=self._families,
            hub=self._model_hub,
            device=ctx.device,
            forced=forced,
        )
        model.train()
        ctx.say(
            f"Model: {config.model.family} with {num_parameters(model) / 1e6:.2f}M parameters; "
            f"{len(train_tok)} training pairs, {len(valid_tok)} validation pairs "
            f"({data.source_lang} -> {data.target_lang})."
        )
        dp = ctx.gangs.dp
        reader = train_reader(
            dp,
            num_items=len(train_tok),
            batch_size=config.train.batch_size,
            seed=config.train.seed,
            make_batch=lambda idx: collate_pairs(train_tok, idx, pad_idx),
        )
        valid = valid_reader(
            dp,
            num_items=len(valid_tok),
            batch_size=config.train.batch_size,
            make_batch=lambda idx: collate_pairs(valid_tok, idx, pad_idx),
        )
        wrapped = parallelize(model, ctx, data_parallel=config.train.data_parallel)
        bleu = self._bleu_scorer(config, model, tokenizer, valid_pairs)
        if bleu is None and config.train.best_metric in ("bleu", "chrf"):
            raise RecipeError(
                f"train.best_metric={config.train.best_metric} needs BLEU at validation; set "
                "bleu.num_sentences > 0 and keep some validation pairs."
            )
        train_loss = partial(
            translation_loss, device=ctx.device, label_smoothing=config.label_smoothing
        )
        # Validation without label smoothing, so its perplexity is a real one.
        valid_loss = partial(translation_loss, device=ctx.device, label_smoothing=0.0)
        summary = run_training(
            ctx,
            model=model,
            unit=LossTrainUnit(wrapped, train_loss),
            reader=reader,
            valid_unit=LossEvalUnit(model, valid_loss) if valid else None,
            valid_reader=valid,
            optim=config.optim,
            train=config.train,
            recipe="mt.train",
            valid_scorers=[bleu] if bleu is not None else [],
        )
        result = finish_run(
            ctx,
            model=model,
            tokenizer=run_tokenizer,
            family=str(getattr(model, "family", config.model.family)),
            task="translation",
            summary=summary,
            final_model=config.train.final_model,
            extra={"source_lang": data.source_lang, "target_lang": data.target_lang},
        )
        if bleu is not None:
            self._final_bleu(ctx, config, bleu, result.weights_step)
        card = result.card_path
        report_run(
            ctx,
            result,
            usage=[
                f"echo 'In the beginning' | seqkit mt translate {card}",
                f"seqkit mt eval {card} source.{data.source_lang} reference.{data.target_lang}",
            ],
        )
        return result

    def _tokenizer(
        self, ctx: RunContext, config: MtTrainConfig, pairs: list[tuple[str, str]]
    ) -> RunTokenizer:
        section = config.tokenizer
        if config.model.checkpoint is not None and section.name is None:
            section = type(section)(**{**section.__dict__, "name": config.model.checkpoint})
        with tempfile.TemporaryDirectory() as tmp:
            corpus = Path(tmp) / "joint.txt"
            if section.name is None and ctx.is_main:
                # One joint vocabulary: both sides of the training pairs, interleaved.
                corpus.write_text("".join(f"{s}\n{t}\n" for s, t in pairs), encoding="utf-8")
            return prepare_tokenizer(
                ctx,
                section,
                self._tokenizer_hub,
                corpora=[corpus] if ctx.is_main else [],
                langs=[config.data.source_lang, config.data.target_lang],
            )

    def _bleu_scorer(
        self,
        config: MtTrainConfig,
        model: nn.Module,
        tokenizer: TextTokenizer,
        valid_pairs: list[tuple[str, str]],
    ) -> BleuScorer | None:
        """BLEU/chrF of ``bleu.num_sentences`` validation pairs, scored at every validation."""
        if not valid_pairs or config.bleu.num_sentences == 0:
            return None
        translator = create_translator(
            model,
            tokenizer,
            source_lang=config.data.source_lang,
            target_lang=config.data.target_lang,
            beam_size=config.bleu.beam_size,
            max_gen_len=config.bleu.max_gen_len,
        )
        return BleuScorer(
            translator,
            valid_pairs[: config.bleu.num_sentences],
            shard=config.train.data_parallel == "ddp",
            batch_size=config.bleu.batch_size,
        )

    def _final_bleu(
        self, ctx: RunContext, config: MtTrainConfig, bleu: BleuScorer, step: int
    ) -> None:
        """Report the final model's BLEU: the last validation's when it scored this step,
        else (stopped by a signal or the wall-time budget, resumed at the end, validation
        off) a scoring now, on every rank (it may run collectives)."""
        origin = f"validation at step {step}"
        if bleu.last_step != step or bleu.last_scores is None:
            model = bleu.model
            was_training = model.training
            model.eval()
            with torch.no_grad():
                bleu(step, ctx.gangs.dp)
            model.train(was_training)
            origin = f"scored after training, step {step}"
        scores = bleu.last_scores
        if not ctx.is_main or scores is None:
            return
        record = {
            "section": "valid_bleu",
            "step": step,
            "bleu": scores.bleu,
            "chrf": scores.chrf,
            "sentences": bleu.num_pairs,
        }
        with (ctx.output_dir / "metrics.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        ctx.say(
            f"\nHeld-out {config.data.source_lang}->{config.data.target_lang} "
            f"({bleu.num_pairs} pairs, beam {config.bleu.beam_size}, {scores.scorer}; "
            f"{origin}): BLEU {scores.bleu:.2f}, chrF {scores.chrf:.2f}\n  {scores.detail}"
        )
        pairs = bleu.pairs
        for (source, reference), hyp in list(zip(pairs, bleu.last_hypotheses))[:3]:
            ctx.say(f"  src: {source}\n  ref: {reference}\n  hyp: {hyp}")
