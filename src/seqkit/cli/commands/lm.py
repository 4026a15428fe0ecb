"""``seqkit lm``: train, fine-tune, generate with and evaluate decoder-only models."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import final

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.recipes.command import RecipeCommand
from seqkit.recipes.lm.config import LmFinetuneConfig, LmPreferenceConfig, LmTrainConfig
from seqkit.recipes.lm.inference import LmEvaluator, LmGenerator, add_generation_arguments


@final
class LmTrainCommand(RecipeCommand[LmTrainConfig]):
    """``seqkit lm train OUTPUT_DIR``."""

    group = "lm"
    name = "train"
    help = "train a decoder-only language model on text files or token datasets"
    description = (
        "Train (or continue training) a decoder-only model. OUTPUT_DIR receives the resolved "
        "config, checkpoints, metrics, the final model and its card; running the command "
        "again on the same OUTPUT_DIR resumes from the last checkpoint. Example: seqkit lm "
        "train runs/bible --preset demo --config 'data.train_files=[datasets/bible/web.en]'"
    )


@final
class LmFinetuneCommand(RecipeCommand[LmFinetuneConfig]):
    """``seqkit lm finetune OUTPUT_DIR``."""

    group = "lm"
    name = "finetune"
    help = "fine-tune a language model on JSONL instructions (loss on responses only)"
    description = (
        'Supervised fine-tuning from JSONL lines {"prompt": ..., "response": ...} or '
        '{"messages": [{"role": ..., "content": ...}]}. Example: seqkit lm finetune '
        "runs/sft --config model.checkpoint=runs/bible/card.yaml "
        "--config 'data.train_files=[sft.jsonl]'"
    )


@final
class LmPreferenceCommand(RecipeCommand[LmPreferenceConfig]):
    """``seqkit lm preference-finetune OUTPUT_DIR``."""

    group = "lm"
    name = "preference-finetune"
    help = "tune a language model on preference pairs (DPO, SimPO or ORPO)"
    description = (
        'Preference fine-tuning from JSONL lines {"prompt": ..., "chosen": ..., "rejected": '
        "...}. Example: seqkit lm preference-finetune runs/dpo --config "
        "model.checkpoint=runs/sft/card.yaml --config 'data.train_files=[pairs.jsonl]' "
        "--config preference.loss=dpo"
    )


@final
class LmGenerateCommand(CliCommand):
    """``seqkit lm generate MODEL [PROMPT ...]``."""

    group = "lm"
    name = "generate"
    help = "continue prompts with a language model (arguments, a file, or interactive)"

    def __init__(self, generator: Callable[[], LmGenerator]) -> None:
        self._generator = generator

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_generation_arguments(parser)

    @override
    def run(self, args: argparse.Namespace) -> int:
        return self._generator().run(args)


@final
class LmEvalCommand(CliCommand):
    """``seqkit lm eval MODEL TEXT_FILE``."""

    group = "lm"
    name = "eval"
    help = "perplexity of a language model on a text file (one document per line)"

    def __init__(self, evaluator: Callable[[], LmEvaluator]) -> None:
        self._evaluator = evaluator

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("model", metavar="MODEL", help="card name, card file or run directory")
        parser.add_argument("text_file", metavar="TEXT_FILE", help="one document per line")
        parser.add_argument("--max-lines", type=int, default=None, help="score only the first N")
        parser.add_argument("--batch-size", type=int, default=16, help="lines per forward pass")
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
        parser.add_argument("--json", action="store_true", help="print the result as JSON")

    @override
    def run(self, args: argparse.Namespace) -> int:
        return self._evaluator().run(args)
