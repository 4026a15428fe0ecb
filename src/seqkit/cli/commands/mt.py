"""``seqkit mt``: train, run and evaluate translation models."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import final

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.cli.commands.recipe import RecipeCommand
from seqkit.recipes.mt.config import MtTrainConfig
from seqkit.recipes.mt.inference import MtTranslator, TranslationOptions


def add_translation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``translate`` and ``eval``."""
    parser.add_argument("model", metavar="MODEL", help="card name, card file or run directory")
    parser.add_argument("--source-lang", default=None, help="default: the card's source_lang")
    parser.add_argument("--target-lang", default=None, help="default: the card's target_lang")
    parser.add_argument("--beam-size", type=int, default=4, help="beam width")
    parser.add_argument("--max-len", type=int, default=256, help="longest output, in tokens")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")


def translation_options(args: argparse.Namespace) -> TranslationOptions:
    """The options of :func:`add_translation_arguments` as the recipe takes them."""
    return TranslationOptions(
        model=args.model,
        source_lang=args.source_lang,
        target_lang=args.target_lang,
        beam_size=args.beam_size,
        max_len=args.max_len,
        batch_size=args.batch_size,
        device=args.device,
    )


@final
class MtTrainCommand(RecipeCommand[MtTrainConfig]):
    """``seqkit mt train OUTPUT_DIR``."""

    group = "mt"
    name = "train"
    help = "train an encoder-decoder translation model on parallel text"
    description = (
        "Train (or resume) a translation model with label-smoothed cross-entropy; reports "
        "validation loss and, at the end, BLEU/chrF on held-out pairs. Example: seqkit mt "
        "train runs/en-es --config data.source_file=datasets/bible/kjv-rv1909.en "
        "--config data.target_file=datasets/bible/kjv-rv1909.es"
    )


@final
class MtTranslateCommand(CliCommand):
    """``seqkit mt translate MODEL``."""

    group = "mt"
    name = "translate"
    help = "translate lines with beam search (stdin to stdout, or --input/--output files)"

    def __init__(self, translator: Callable[[], MtTranslator]) -> None:
        self._translator = translator

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_translation_arguments(parser)
        parser.add_argument("--input", type=Path, help="read sentences from this file")
        parser.add_argument("--output", type=Path, help="write translations to this file")

    @override
    def run(self, args: argparse.Namespace) -> int:
        source = Path(args.input) if args.input is not None else None
        raw = source.read_bytes() if source is not None else sys.stdin.buffer.read()
        result = self._translator().translate_text(translation_options(args), raw, source=source)
        if args.output is not None:
            Path(args.output).write_text(result, encoding="utf-8")
        else:
            sys.stdout.write(result)
        return 0


@final
class MtEvalCommand(CliCommand):
    """``seqkit mt eval MODEL SOURCE_FILE REFERENCE_FILE``."""

    group = "mt"
    name = "eval"
    help = "BLEU and chrF of a translation model on a source file and its references"

    def __init__(self, translator: Callable[[], MtTranslator]) -> None:
        self._translator = translator

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        add_translation_arguments(parser)
        parser.add_argument("source_file", metavar="SOURCE_FILE", help="one sentence per line")
        parser.add_argument("reference_file", metavar="REFERENCE_FILE", help="aligned references")
        parser.add_argument("--max-lines", type=int, default=None, help="use the first N pairs")
        parser.add_argument("--output", type=Path, help="also write the translations here")
        parser.add_argument("--json", action="store_true", help="print the scores as JSON")

    @override
    def run(self, args: argparse.Namespace) -> int:
        result = self._translator().evaluate(
            translation_options(args),
            Path(args.source_file),
            Path(args.reference_file),
            max_lines=args.max_lines,
        )
        scores, sentences = result.scores, len(result.hypotheses)
        if args.output is not None:
            Path(args.output).write_text(
                "".join(h + "\n" for h in result.hypotheses), encoding="utf-8"
            )
        if args.json:
            print(
                json.dumps(
                    {
                        "bleu": scores.bleu,
                        "chrf": scores.chrf,
                        "scorer": scores.scorer,
                        "sentences": sentences,
                    }
                )
            )
        else:
            print(
                f"{sentences} sentences ({scores.scorer}): BLEU {scores.bleu:.2f}, "
                f"chrF {scores.chrf:.2f}\n{scores.detail}"
            )
        return 0
