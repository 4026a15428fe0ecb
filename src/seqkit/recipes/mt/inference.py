"""``seqkit mt translate`` and ``seqkit mt eval``: using a trained translation model."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import final

from seqkit.assets import AssetStore
from seqkit.models import ModelHub
from seqkit.recipes.errors import RecipeError
from seqkit.recipes.model_ref import resolve_device, resolve_model_ref
from seqkit.recipes.mt.scoring import (
    TranslationScores,
    create_translator,
    score_translations,
    translate_all,
)
from seqkit.recipes.mt.text_pairs import read_aligned
from seqkit.text import TextTokenizer, TokenizerHub


@dataclass(frozen=True, kw_only=True)
class TranslationOptions:
    """Which model translates, and how (``seqkit mt translate``/``eval`` fill it in)."""

    model: str
    """Card name, card file or run directory."""

    source_lang: str | None = None
    """Default: the card's ``source_lang``."""

    target_lang: str | None = None
    """Default: the card's ``target_lang``."""

    beam_size: int = 4
    """Beam width."""

    max_len: int = 256
    """Longest output, in tokens."""

    batch_size: int = 32
    """Sentences per batch."""

    device: str | None = None
    """``cpu``, ``cuda``, ``cuda:1``; ``None`` picks one."""


@dataclass(frozen=True, kw_only=True)
class MtEvalResult:
    """What ``seqkit mt eval`` measured."""

    hypotheses: list[str]
    """The translations, aligned with the source lines."""

    scores: TranslationScores
    """BLEU, chrF and the scorer used."""


@final
class MtTranslator:
    """Loads a translation model by card and translates files or streams."""

    def __init__(
        self, *, model_hub: ModelHub, tokenizer_hub: TokenizerHub, asset_store: AssetStore
    ) -> None:
        self._model_hub = model_hub
        self._tokenizer_hub = tokenizer_hub
        self._asset_store = asset_store

    def translate(self, options: TranslationOptions, sentences: list[str]) -> list[str]:
        """Translate ``sentences`` with the model and settings of ``options``."""
        ref = resolve_model_ref(options.model)
        source_lang, target_lang = self._langs(ref, options)
        model = self._model_hub.load(ref, device=resolve_device(options.device))
        tokenizer: TextTokenizer = self._tokenizer_hub.load(ref)
        translator = create_translator(
            model,
            tokenizer,
            source_lang=source_lang,
            target_lang=target_lang,
            beam_size=options.beam_size,
            max_gen_len=options.max_len,
        )
        return translate_all(translator, sentences, batch_size=options.batch_size)

    def _langs(self, ref: str, options: TranslationOptions) -> tuple[str, str]:
        source, target = options.source_lang, options.target_lang
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

    def translate_text(
        self, options: TranslationOptions, raw: bytes, *, source: Path | None = None
    ) -> str:
        """Translate UTF-8 text line by line (``source`` names where it came from, for errors);
        blank lines stay blank so the output stays aligned with the input."""
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
        translated = iter(self.translate(options, nonblank)) if nonblank else iter(())
        out = [next(translated) if line else "" for line in lines]
        return "".join(line + "\n" for line in out)

    def evaluate(
        self,
        options: TranslationOptions,
        source_file: Path,
        reference_file: Path,
        *,
        max_lines: int | None = None,
    ) -> MtEvalResult:
        """Translate ``source_file`` and score it against ``reference_file``."""
        pairs = read_aligned(source_file, reference_file)
        if max_lines is not None:
            pairs = pairs[:max_lines]
        if not pairs:
            raise RecipeError(f"{source_file} holds no sentences to translate.")
        hyps = self.translate(options, [s for s, _ in pairs])
        return MtEvalResult(hypotheses=hyps, scores=score_translations(hyps, [t for _, t in pairs]))
