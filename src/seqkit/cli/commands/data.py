"""``seqkit data preprocess``: binarize text into a token dataset (see docs/text.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from typing_extensions import override

from seqkit.cli.command import CliCommand
from seqkit.runtime import DependencyResolver
from seqkit.text import (
    ENCODING_MODES,
    Column,
    Holdout,
    PreprocessError,
    PreprocessOptions,
    TextTokenizer,
    TokenizerHub,
    TokenizerSource,
    preprocess,
    sha256_of,
)


def tokenizer_identity(source: TokenizerSource, tokenizer: TextTokenizer) -> dict[str, object]:
    """What a manifest records about the tokenizer: family, where, sha256, vocabulary."""
    path = source.path
    file = path / "tokenizer.json" if path is not None and path.is_dir() else path
    info = tokenizer.vocab_info
    return {
        "name": source.name,
        "card": source.card,
        "family": source.family,
        "path": None if path is None else str(path.resolve()),
        "sha256": None if file is None else sha256_of(file),
        "vocab_size": info.size,
        "unk_idx": info.unk_idx,
        "bos_idx": info.bos_idx,
        "eos_idx": info.eos_idx,
        "pad_idx": info.pad_idx,
    }


class PreprocessCommand(CliCommand):
    """``seqkit data preprocess``."""

    group = "data"
    name = "preprocess"
    help = "tokenize monolingual or parallel text into a token dataset (read_tokens format)"
    description = (
        "Tokenize INPUT (monolingual) or --source/--target (parallel, line-aligned) into the "
        "token dataset format (index.json, tokens.bin, offsets.bin; source/ and target/ for "
        "parallel) with a manifest.json. Lines that are invalid UTF-8, empty, or over-long "
        "are skipped, counted and listed in the manifest. With --valid-size or "
        "--valid-fraction, input lines drawn at random (seeded by --seed) go to DIR/valid "
        "and the rest to DIR/train, each a complete dataset, with manifest.json at DIR. The "
        "output appears only when complete."
    )

    def __init__(self, resolver: DependencyResolver) -> None:
        self._resolver = resolver

    @override
    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("input", nargs="?", type=Path, help="monolingual text file")
        parser.add_argument("--source", type=Path, help="source side of a parallel corpus")
        parser.add_argument("--target", type=Path, help="target side of a parallel corpus")
        parser.add_argument("--source-lang", help="source language token (__LANG__)")
        parser.add_argument("--target-lang", help="target language token (__LANG__)")
        parser.add_argument("--tokenizer", required=True, help="card name, card file or path")
        parser.add_argument("--output", type=Path, required=True, metavar="DIR")
        parser.add_argument(
            "--mode",
            choices=ENCODING_MODES,
            default="default",
            help="special tokens of a monolingual corpus (default: <s> text </s>)",
        )
        parser.add_argument("--max-tokens", type=int, help="skip longer documents (counted)")
        parser.add_argument(
            "--max-bytes", type=int, default=1 << 20, help="skip longer lines (counted)"
        )
        parser.add_argument(
            "--chunk-lines", type=int, default=16384, help="lines encoded per batch"
        )
        parser.add_argument("--threads", type=int, help="encoding threads (default: all cores)")
        holdout = parser.add_argument_group(
            "validation hold-out",
            "hold out input lines (pairs) for validation: DIR/train and DIR/valid instead of "
            "one dataset at DIR; the held-out lines depend only on the number of input "
            "lines and --seed",
        )
        split = holdout.add_mutually_exclusive_group()
        split.add_argument(
            "--valid-size", type=int, metavar="N", help="hold out exactly N input lines"
        )
        split.add_argument(
            "--valid-fraction",
            type=float,
            metavar="F",
            help="hold out int(lines * F) input lines, at least 1 (0 < F < 1)",
        )
        holdout.add_argument(
            "--seed", type=int, default=0, help="seed of the hold-out draw (default: 0)"
        )
        holdout.add_argument(
            "--keep-valid-text",
            action="store_true",
            help="also write the held-out lines as DIR/valid/<side>.txt (text.txt when "
            "monolingual), aligned with the valid documents (e.g. BLEU references)",
        )
        parser.add_argument("--overwrite", action="store_true", help="replace DIR if it exists")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    @override
    def run(self, args: argparse.Namespace) -> int:
        parallel = args.source is not None or args.target is not None
        if parallel == (args.input is not None) or (
            parallel and (args.source is None or args.target is None)
        ):
            raise PreprocessError(
                "Give either INPUT (monolingual) or both --source and --target (parallel)."
            )
        holdout = None
        if args.valid_size is not None or args.valid_fraction is not None:
            holdout = Holdout(
                size=args.valid_size,
                fraction=args.valid_fraction,
                seed=args.seed,
                keep_text=args.keep_valid_text,
            )
        elif args.keep_valid_text:
            raise PreprocessError("--keep-valid-text needs --valid-size or --valid-fraction.")
        hub = self._resolver.resolve(TokenizerHub)
        source = hub.resolve(args.tokenizer)
        tokenizer = hub.load_source(source)
        columns = self._columns(args, tokenizer, parallel)
        options = PreprocessOptions(
            max_tokens=args.max_tokens,
            max_bytes=args.max_bytes,
            chunk_lines=args.chunk_lines,
            num_threads=args.threads,
            overwrite=args.overwrite,
            progress=not args.no_progress,
        )
        result = preprocess(
            columns,
            args.output,
            vocab_size=tokenizer.vocab_info.size,
            tokenizer=tokenizer_identity(source, tokenizer),
            options=options,
            holdout=holdout,
        )
        manifest = result.manifest
        print(
            f"wrote {result.output}: {manifest['num_documents']} documents, "
            f"{manifest['num_tokens']} tokens ({manifest['dtype']})"
        )
        print(f"lines: {result.report.summary()}")
        for name, report in result.splits.items():
            print(f"{name}: {report.summary()}")
        return 0

    @staticmethod
    def _columns(
        args: argparse.Namespace, tokenizer: TextTokenizer, parallel: bool
    ) -> list[Column]:
        def column(path: Path, mode: str, lang: str | None) -> Column:
            encoder = tokenizer.create_encoder(mode=mode, lang=lang)
            subdir = mode if parallel else None
            info: dict[str, object] = {"mode": mode, "lang": lang}
            return Column(path=path, encoder=encoder, subdir=subdir, info=info)

        if not parallel:
            return [column(args.input, args.mode, None)]
        return [
            column(args.source, "source", args.source_lang),
            column(args.target, "target", args.target_lang),
        ]
