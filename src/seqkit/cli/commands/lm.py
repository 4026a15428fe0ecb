"""``seqkit lm``: train, fine-tune, generate with and evaluate decoder-only models."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import final

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.cli.commands.recipe import RecipeCommand
from seqkit.recipes.lm.config import LmFinetuneConfig, LmPreferenceConfig, LmTrainConfig
from seqkit.recipes.lm.inference import GenerationRequest, LmEvaluator, LmGenerator
from seqkit.recipes.model_ref import resolve_device


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
        parser.add_argument("model", metavar="MODEL", help="card name, card file or run directory")
        parser.add_argument("prompts", metavar="PROMPT", nargs="*", help="prompts to continue")
        parser.add_argument("--file", type=Path, help="read prompts from this file, one per line")
        parser.add_argument(
            "-i", "--interactive", action="store_true", help="read prompts from the terminal"
        )
        parser.add_argument("--max-new-tokens", type=int, default=64, help="tokens per completion")
        parser.add_argument(
            "--temperature", type=float, default=0.8, help="sampling temperature (0: greedy)"
        )
        parser.add_argument("--top-p", type=float, default=0.9, help="nucleus sampling threshold")
        parser.add_argument("--seed", type=int, default=None, help="seed for reproducible samples")
        parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")
        parser.add_argument(
            "--chat",
            action="store_true",
            help="send each prompt as one user turn in the model's chat template and print "
            "only the reply (see also `seqkit lm chat`)",
        )

    @override
    def run(self, args: argparse.Namespace) -> int:
        request = GenerationRequest(
            model=args.model,
            prompts=tuple(args.prompts),
            file=args.file,
            interactive=args.interactive,
            max_new_tokens=args.max_new_tokens,
            temperature=args.temperature,
            top_p=args.top_p,
            seed=args.seed,
            device=args.device,
            chat=args.chat,
        )
        self._generator().run(request)
        return 0


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
        result = self._evaluator().evaluate(
            args.model,
            Path(args.text_file),
            max_lines=args.max_lines,
            batch_size=args.batch_size,
            device=resolve_device(args.device),
        )
        if args.json:
            print(json.dumps(result))
        else:
            print(
                f"{int(result['lines'])} lines, {int(result['tokens'])} tokens: "
                f"loss {result['loss']:.4f} nats/token, perplexity {result['perplexity']:.2f}"
            )
        return 0
