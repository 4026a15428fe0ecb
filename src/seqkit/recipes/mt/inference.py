"""``seqkit mt translate`` and ``seqkit mt eval``: using a trained translation model."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import final

from seqkit.assets import AssetStore
from seqkit.models import ModelHub
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.model_ref import resolve_device, resolve_model_ref
from seqkit.recipes.mt.scoring import create_translator, score_translations, translate_all
from seqkit.recipes.mt.text_pairs import read_aligned
from seqkit.text import TextTokenizer, TokenizerHub


def add_translation_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``translate`` and ``eval``."""
    parser.add_argument("model", metavar="MODEL", help="card name, card file or run directory")
    parser.add_argument("--source-lang", default=None, help="default: the card's source_lang")
    parser.add_argument("--target-lang", default=None, help="default: the card's target_lang")
    parser.add_argument("--beam-size", type=int, default=4, help="beam width")
    parser.add_argument("--max-len", type=int, default=256, help="longest output, in tokens")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: auto)")


@final
class MtTranslator:
    """Loads a translation model by card and translates files or streams."""

    def __init__(
        self, *, model_hub: ModelHub, tokenizer_hub: TokenizerHub, asset_store: AssetStore
    ) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub
        self._asset_store = asset_store

    def translate(self, args: argparse.Namespace, sentences: list[str]) -> list[str]:
        """Translate ``sentences`` with the model and options of ``args``."""
        ref = resolve_model_ref(args.model)
        source_lang, target_lang = self._langs(ref, args)
        model = self._model_hub.load(ref, device=resolve_device(args.device))
        tokenizer: TextTokenizer = self._tokenizer_hub.load(ref)
        translator = create_translator(
            model,
            tokenizer,
            source_lang=source_lang,
            target_lang=target_lang,
            beam_size=args.beam_size,
            max_gen_len=args.max_len,
        )
        return translate_all(translator, sentences, batch_size=args.batch_size)

    def _langs(self, ref: str, args: argparse.Namespace) -> tuple[str, str]:
        source, target = args.source_lang, args.target_lang
        if source is None or target is None:
            card = self._asset_store.retrieve_card(ref)
            if source is None and card.field("source_lang").exists():
                source = card.field("source_lang").as_str()
            if target is None and card.field("target_lang").exists():
                target = card.field("target_lang").as_str()
        if source is None or target is None:
            raise RecipeError(
                f"The card of {ref} names no source_lang/target_lang; pass --source-lang "
                "and --target-lang."
            )
        return source, target

    def run_translate(self, args: argparse.Namespace) -> int:
        """``seqkit mt translate``: ``--input``/stdin to ``--output``/stdout, line by line."""
        source = Path(args.input) if args.input is not None else None
        raw = source.read_bytes() if source is not None else sys.stdin.buffer.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as ex:
            line = raw[: ex.start].count(b"\n") + 1
            where = f"{source}:{line}" if source is not None else f"standard input, line {line}"
            raise RecipeError(
                f"{where} is not UTF-8 text ({ex.reason}); convert it, e.g. with iconv -t utf-8."
            ) from None
        lines = [line.strip() for line in text.splitlines()]
        nonblank = [line for line in lines if line]
        translated = iter(self.translate(args, nonblank)) if nonblank else iter(())
        # Blank lines stay blank so the output stays aligned with the input.
        out = [next(translated) if line else "" for line in lines]
        result = "".join(line + "\n" for line in out)
        if args.output is not None:
            Path(args.output).write_text(result, encoding="utf-8")
        else:
            sys.stdout.write(result)
        return 0

    def run_eval(self, args: argparse.Namespace) -> int:
        """``seqkit mt eval``: translate a source file, score against the references."""
        pairs = read_aligned(Path(args.source_file), Path(args.reference_file))
        if args.max_lines is not None:
            pairs = pairs[: args.max_lines]
        if not pairs:
            raise RecipeError(f"{args.source_file} holds no sentences to translate.")
        hyps = self.translate(args, [s for s, _ in pairs])
        scores = score_translations(hyps, [t for _, t in pairs])
        if args.output is not None:
            Path(args.output).write_text("".join(h + "\n" for h in hyps), encoding="utf-8")
        if args.json:
            print(
                json.dumps(
                    {
                        "bleu": scores.bleu,
                        "chrf": scores.chrf,
                        "scorer": scores.scorer,
                        "sentences": len(pairs),
                    }
                )
            )
        else:
            print(
                f"{len(pairs)} sentences ({scores.scorer}): BLEU {scores.bleu:.2f}, "
                f"chrF {scores.chrf:.2f}\n{scores.detail}"
            )
        return 0
