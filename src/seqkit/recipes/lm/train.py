"""``seqkit lm train``: decoder-only pretraining or continued training on packed text."""

from __future__ import annotations

from functools import partial
from typing import final

from torch import nn
from typing_extensions import override

from seqkit.data import PackedBatch
from seqkit.recipes.data_prep import DataPreparation
from seqkit.recipes.finish import RunResult, report_run
from seqkit.recipes.lm.config import LmTrainConfig
from seqkit.recipes.lm.data import lm_entries, lm_readers, prepare_lm_data
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.lm.units import lm_loss
from seqkit.recipes.loss_units import LossFn
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.skeleton import RecipeData, TrainingRecipe
from seqkit.recipes.tokenizer_setup import RunTokenizer, prepare_tokenizer


@final
class LmTrainRecipe(TrainingRecipe[LmTrainConfig, PackedBatch]):
    """Tokenizer (trained once if needed) -> packed token rows -> llama model -> trainer."""

    name = "lm.train"
    task = "lm"

    @override
    def tokenizer(self, ctx: RunContext, config: LmTrainConfig) -> RunTokenizer:
        section = config.tokenizer
        if config.model.checkpoint is not None and section.name is None:
            section = type(section)(**{**section.__dict__, "name": config.model.checkpoint})
        corpora = [
            e.path for e in lm_entries(config.data) if e.path is not None and e.path.is_file()
        ]
        return prepare_tokenizer(ctx, section, self._tokenizer_hub, corpora=corpora)

    @override
    def data(
        self, ctx: RunContext, config: LmTrainConfig, prep: DataPreparation
    ) -> RecipeData[PackedBatch]:
        prepared = prepare_lm_data(prep, config.data, seed=config.train.seed)
        train, valid = lm_readers(ctx, prepared, config.data, config.train)
        seq_len = config.data.max_seq_len
        forced: dict[str, object] = {"vocab_size": prep.tokenizer.vocab_info.size}
        if config.model.checkpoint is None:
            configured = int(str(config.model.config.get("max_seq_len") or 0))
            forced["max_seq_len"] = max(seq_len, configured)
        num_tokens = sum(len(ds.column("").tokens) for ds in prepared.train)
        return RecipeData(
            train=train,
            valid=valid,
            prepared=prepared,
            forced=forced,
            description=f"{num_tokens:,} training tokens in rows of {seq_len}.",
        )

    @override
    def losses(
        self, ctx: RunContext, config: LmTrainConfig
    ) -> tuple[LossFn[PackedBatch], LossFn[PackedBatch]]:
        loss = partial(lm_loss, device=ctx.device)
        return loss, loss

    @override
    def after_training(
        self,
        ctx: RunContext,
        config: LmTrainConfig,
        model: nn.Module,
        tokenizer: RunTokenizer,
        result: RunResult,
    ) -> None:
        card = result.card_path
        report_run(
            ctx,
            result,
            usage=[
                f'seqkit lm generate {card} "In the beginning"',
                f"seqkit lm eval {card} held_out.txt",
                f"python -c 'import seqkit; print(seqkit.load_model(\"{card}\"))'",
            ],
        )
        if ctx.is_main and config.sample.prompts:
            print_samples(model, tokenizer.tokenizer, config.sample, seed=config.train.seed)


__all__ = ["LmTrainRecipe"]
