"""``seqkit mt``: train, run and evaluate translation models."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import final

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.recipes.command import RecipeCommand
from seqkit.recipes.mt.config import MtTrainConfig
from seqkit.recipes.mt.inference import MtTranslator, add_translation_arguments


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
        return self._translator().run_translate(args)


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
        return self._translator().run_eval(args)
