"""``seqkit lm train``: decoder-only pretraining or continued training on packed text."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import final

from seqkit.models import ModelFamilies, ModelHub
from seqkit.recipes.batching import IndexedBatchReader, train_reader, valid_reader
from seqkit.recipes.cli_args import save_config
from seqkit.recipes.finish import RunResult, finish_run, report_run
from seqkit.recipes.lm.config import LmTrainConfig
from seqkit.recipes.lm.packing import PackedBatch, PackedRows
from seqkit.recipes.lm.samples import print_samples
from seqkit.recipes.lm.text_data import prepare_lm_streams
from seqkit.recipes.lm.units import LmBatch, lm_loss
from seqkit.recipes.loss_units import LossEvalUnit, LossTrainUnit
from seqkit.recipes.model_setup import build_model, num_parameters
from seqkit.recipes.parallelism import parallelize
from seqkit.recipes.run_context import RunContext, create_run_context
from seqkit.recipes.tokenizer_setup import prepare_tokenizer
from seqkit.recipes.training import run_training
from seqkit.text import TokenizerHub


@final
class LmTrainRecipe:
    """Tokenizer (trained once if needed) -> packed token rows -> llama model -> trainer."""

    def __init__(
        self, *, tokenizer_hub: TokenizerHub, model_families: ModelFamilies, model_hub: ModelHub
    ) -> None:
        self._tokenizer_hub = tokenizer_hub
        self._families = model_families
        self._model_hub = model_hub

    def run(self, config: LmTrainConfig, output_dir: Path) -> RunResult:
        """Train (or resume) in ``output_dir``; print and return where the model is."""
        ctx = create_run_context(output_dir, config.train)
        ctx.main_first(lambda: save_config(config, output_dir))
        tokenizer_source = config.model.checkpoint or config.tokenizer.name
        section = config.tokenizer
        if config.model.checkpoint is not None and section.name is None:
            section = type(section)(**{**section.__dict__, "name": tokenizer_source})
        run_tokenizer = prepare_tokenizer(
            ctx, section, self._tokenizer_hub, corpora=config.data.train_files
        )
        tokenizer = run_tokenizer.tokenizer
        vocab = tokenizer.vocab_info
        train_stream, valid_stream = prepare_lm_streams(
            ctx, config.data, tokenizer, seed=config.train.seed
        )
        seq_len = config.data.max_seq_len
        forced: dict[str, object] = {"vocab_size": vocab.size}
        if config.model.checkpoint is None:
            forced["max_seq_len"] = max(
                seq_len, int(str(config.model.config.get("max_seq_len") or 0))
            )
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
            f"{len(train_stream.tokens):,} training tokens in rows of {seq_len}."
        )
        dp = ctx.gangs.dp
        train_rows = PackedRows(train_stream, seq_len)
        reader = train_reader(
            dp,
            num_items=len(train_rows),
            batch_size=config.train.batch_size,
            seed=config.train.seed,
            make_batch=train_rows.batch,
        )
        valid = _valid_reader(ctx, valid_stream, seq_len, config.train.batch_size)
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
            recipe="lm.train",
        )
        result = finish_run(
            ctx,
            model=model,
            tokenizer=run_tokenizer,
            family=config.model.family,
            task="lm",
            summary=summary,
            final_model=config.train.final_model,
        )
        card = result.card_path
        report_run(
            ctx,
            result,
            usage=[
                f'seqkit lm generate {card} "In the beginning"',
                f"seqkit lm eval {card} held_out.txt",
                _python_usage(card),
            ],
        )
        if ctx.is_main and config.sample.prompts:
            print_samples(model, tokenizer, config.sample, seed=config.train.seed)
        return result


def _python_usage(card: Path) -> str:
    import seqkit

    if hasattr(seqkit, "load_model"):
        return f"python -c 'import seqkit; print(seqkit.load_model(\"{card}\"))'"
    return (
        "python -c 'import seqkit; from seqkit.models import ModelHub; "
        f'print(seqkit.setup().resolve(ModelHub).load("{card}"))\''
    )


def _valid_reader(
    ctx: RunContext, stream: object, seq_len: int, batch_size: int
) -> IndexedBatchReader[LmBatch] | None:
    from seqkit.recipes.token_data import TokenStream

    if not isinstance(stream, TokenStream):
        return None
    rows = PackedRows(stream, seq_len)
    dp = ctx.gangs.dp
    reader: IndexedBatchReader[LmBatch] | None = valid_reader(
        dp, num_items=len(rows), batch_size=batch_size, make_batch=rows.batch
    )
    if reader is None:
        ctx.say(f"Validation text is shorter than {dp.size} row(s) of {seq_len}; skipping it.")
    return reader


__all__ = ["LmTrainRecipe", "PackedBatch"]
