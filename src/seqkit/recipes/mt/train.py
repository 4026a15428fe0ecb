"""``seqkit mt train``: encoder-decoder translation training on parallel text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial
from typing import final

import torch
from torch import nn
from typing_extensions import override

from seqkit.data import PairBatch
from seqkit.recipes.data_prep import DataPreparation
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.finish import RunResult, report_run
from seqkit.recipes.loss_units import LossFn
from seqkit.recipes.mt.config import MtTrainConfig
from seqkit.recipes.mt.data import mt_readers, prepare_mt_data, text_corpora
from seqkit.recipes.mt.scoring import create_translator, require_sacrebleu
from seqkit.recipes.mt.text_pairs import read_aligned
from seqkit.recipes.mt.units import translation_loss
from seqkit.recipes.mt.valid_bleu import BleuScorer
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.skeleton import RecipeData, TrainingRecipe
from seqkit.recipes.tokenizer_setup import RunTokenizer, prepare_tokenizer
from seqkit.text import TextTokenizer
from seqkit.trainer import ValidationScorer


@final
class MtTrainRecipe(TrainingRecipe[MtTrainConfig, PairBatch]):
    """Joint tokenizer -> tokenized pairs -> transformer -> trainer (validation loss, BLEU
    and chrF) -> the final model's BLEU on held-out pairs."""

    name = "mt.train"
    task = "translation"

    _bleu: BleuScorer | None = None

    @override
    def check(self, config: MtTrainConfig) -> None:
        if config.bleu.num_sentences:
            require_sacrebleu()

    @override
    def tokenizer(self, ctx: RunContext, config: MtTrainConfig) -> RunTokenizer:
        section = config.tokenizer
        if config.model.checkpoint is not None and section.name is None:
            section = type(section)(**{**section.__dict__, "name": config.model.checkpoint})
        # One joint vocabulary, trained on both sides of the training text.
        return prepare_tokenizer(
            ctx,
            section,
            self._tokenizer_hub,
            corpora=text_corpora(config.data),
            langs=[config.data.source_lang, config.data.target_lang],
        )

    @override
    def data(
        self, ctx: RunContext, config: MtTrainConfig, prep: DataPreparation
    ) -> RecipeData[PairBatch]:
        data = config.data
        prepared = prepare_mt_data(prep, data, seed=config.train.seed)
        vocab = prep.tokenizer.vocab_info
        pad_idx = vocab.pad_idx if vocab.pad_idx is not None else 0
        train, valid = mt_readers(ctx, prepared, data, config.train, pad_idx)
        longest = max(
            int(ds.column(side).lengths().max(initial=0))
            for ds in prepared.train
            for side in ("source", "target")
        )
        forced: dict[str, object] = {"vocab_size": vocab.size, "pad_idx": pad_idx}
        if config.model.checkpoint is None:
            forced["max_seq_len"] = max(longest, config.bleu.max_gen_len + 2, data.max_seq_len + 2)
        num_train = sum(ds.num_documents for ds in prepared.train)
        num_valid = sum(ds.num_documents for ds in prepared.valid)
        return RecipeData(
            train=train,
            valid=valid,
            prepared=prepared,
            forced=forced,
            description=(
                f"{num_train} training pairs, {num_valid} validation pairs "
                f"({data.source_lang} -> {data.target_lang})."
            ),
        )

    @override
    def losses(
        self, ctx: RunContext, config: MtTrainConfig
    ) -> tuple[LossFn[PairBatch], LossFn[PairBatch]]:
        train_loss = partial(
            translation_loss, device=ctx.device, label_smoothing=config.label_smoothing
        )
        # Validation without label smoothing, so its perplexity is a real one.
        return train_loss, partial(translation_loss, device=ctx.device, label_smoothing=0.0)

    @override
    def valid_scorers(
        self,
        ctx: RunContext,
        config: MtTrainConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        data: RecipeData[PairBatch],
    ) -> Sequence[ValidationScorer]:
        text = data.prepared.valid_text
        pairs = []
        if data.valid is not None and text is not None and config.bleu.num_sentences:
            pairs = read_aligned(text[0], text[1], limit=config.bleu.num_sentences)
        self._bleu = self._bleu_scorer(config, model, tokenizer.tokenizer, pairs)
        if self._bleu is None and config.train.best_metric in ("bleu", "chrf"):
            raise RecipeError(
                f"train.best_metric={config.train.best_metric} needs BLEU at validation; set "
                "bleu.num_sentences > 0 and keep some validation pairs with their text."
            )
        return [self._bleu] if self._bleu is not None else []

    @override
    def card_extra(self, config: MtTrainConfig) -> dict[str, object]:
        return {"source_lang": config.data.source_lang, "target_lang": config.data.target_lang}

    @override
    def after_training(
        self,
        ctx: RunContext,
        config: MtTrainConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        if self._bleu is not None:
            self._final_bleu(ctx, config, self._bleu, result.weights_step)
        card = result.card_path
        data = config.data
        report_run(
            ctx,
            result,
            usage=[
                f"echo 'In the beginning' | seqkit mt translate {card}",
                f"seqkit mt eval {card} source.{data.source_lang} reference.{data.target_lang}",
            ],
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
