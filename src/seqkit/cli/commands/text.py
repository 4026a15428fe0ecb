"""``seqkit text``: train a tokenizer, encode text to ids, decode ids to text."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.runtime import DependencyResolver
from seqkit.text import ENCODING_MODES, TokenizerHub, train_sentencepiece


def _lines(values: list[str]) -> Iterator[str]:
    if values:
        yield from values
        return
    for line in sys.stdin:
        yield line.rstrip("\r\n")


class TrainTokenizerCommand(CliCommand):
    """``seqkit text train-tokenizer``: SentencePiece training plus an asset card."""

    group = "text"
    name = "train-tokenizer"
    help = "train a SentencePiece tokenizer and write it with a ready-to-use asset card"
    description = (
        "Train a SentencePiece model (unigram or BPE) on the lines of CORPUS files. Writes "
        "DIR/NAME.model and DIR/NAME.yaml, a card that `seqkit.load_tokenizer('DIR/NAME.yaml')`"
        " (or the card's name, once DIR is a card directory) loads. Ids: <unk>=0 <s>=1 </s>=2 "
        "<pad>=3, then the language tokens __xx__ of --lang. Invalid UTF-8, empty and over-long "
        "lines are skipped and reported."
    )

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("corpus", nargs="+", type=Path, metavar="CORPUS")
        parser.add_argument("--vocab-size", type=int, required=True, help="number of pieces")
        parser.add_argument("--model-type", choices=("unigram", "bpe"), default="unigram")
        parser.add_argument("--output", type=Path, required=True, metavar="DIR")
        parser.add_argument("--name", help="card and file name (default: MODEL_TYPE+VOCAB_SIZE)")
        parser.add_argument(
            "--lang",
            action="append",
            default=[],
            help="add the language token __LANG__ (repeat for each language of an MT corpus)",
        )
        parser.add_argument(
            "--user-symbol", action="append", default=[], help="add a symbol that is never split"
        )
        parser.add_argument("--character-coverage", type=float, default=1.0)
        parser.add_argument(
            "--max-sentences", type=int, help="train on a seeded sample of this many lines"
        )
        parser.add_argument("--threads", type=int, help="trainer threads (default: all cores)")
        parser.add_argument("--seed", type=int, default=2)

    @override
    def run(self, args: argparse.Namespace) -> int:
        result = train_sentencepiece(
            args.corpus,
            output_dir=args.output,
            vocab_size=args.vocab_size,
            model_type=args.model_type,
            name=args.name,
            langs=args.lang,
            user_defined_symbols=args.user_symbol,
            character_coverage=args.character_coverage,
            max_sentences=args.max_sentences,
            num_threads=args.threads,
            seed=args.seed,
        )
        print(f"model: {result.model_path} ({result.vocab_size} pieces, sha256 {result.sha256})")
        print(f"card:  {result.card_path}")
        print(f"lines: {result.report.summary()}")
        return 0


class _TokenizerCommand(CliCommand):
    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    def _hub(self) -> TokenizerHub:
        return self._resolver.resolve(TokenizerHub)


class EncodeCommand(_TokenizerCommand):
    """``seqkit text encode``: print the ids of each line."""

    group = "text"
    name = "encode"
    help = "encode text (arguments or stdin lines) and print space-separated ids"

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tokenizer", required=True, help="card name, card file or path")
        parser.add_argument("--mode", choices=ENCODING_MODES, help="special-token layout")
        parser.add_argument("--task", choices=("language_modeling", "translation"))
        parser.add_argument("--lang", help="language token for modes source/target")
        parser.add_argument("--pieces", action="store_true", help="print pieces instead of ids")
        parser.add_argument("text", nargs="*", help="texts (default: read lines from stdin)")

    @override
    def run(self, args: argparse.Namespace) -> int:
        tokenizer = self._hub().load(args.tokenizer)
        encoder = tokenizer.create_encoder(task=args.task, lang=args.lang, mode=args.mode)
        for text in _lines(args.text):
            ids = encoder(text).tolist()
            if args.pieces:
                print(" ".join(tokenizer.index_to_token(i) for i in ids))
            else:
                print(" ".join(map(str, ids)))
        return 0


class DecodeCommand(_TokenizerCommand):
    """``seqkit text decode``: print the text of each line of ids."""

    group = "text"
    name = "decode"
    help = "decode lines of space-separated ids (arguments or stdin) into text"

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--tokenizer", required=True, help="card name, card file or path")
        parser.add_argument(
            "--keep-special", action="store_true", help="keep BOS/EOS/PAD/language tokens"
        )
        parser.add_argument("ids", nargs="*", help="lines of ids (default: stdin)")

    @override
    def run(self, args: argparse.Namespace) -> int:
        from seqkit.text import TextError

        tokenizer = self._hub().load(args.tokenizer)
        decoder = tokenizer.create_decoder(skip_special_tokens=not args.keep_special)
        size = tokenizer.vocab_info.size
        for line_no, line in enumerate(_lines(args.ids), start=1):
            try:
                ids = [int(tok) for tok in line.split()]
            except ValueError as ex:
                raise TextError(f"Input line {line_no} is not space-separated ids: {ex}") from ex
            bad = [i for i in ids if not 0 <= i < size]
            if bad:
                raise TextError(
                    f"Input line {line_no}: ids {bad[:5]} are outside the vocabulary [0, {size})."
                )
            print(decoder(ids))
        return 0
