"""Translating a list of sentences and scoring it: BLEU and chrF, by sacrebleu.

sacrebleu is the reference implementation published numbers come from, so seqkit keeps no
copy of its own; it is the ``seqkit[metrics]`` extra, needed by the mt recipes' scoring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import nn

from seqkit.generation import BeamSearchGenerator, TextTranslator
from seqkit.recipes.errors import RecipeError
from seqkit.text import TextTokenizer


@dataclass(frozen=True, kw_only=True)
class TranslationScores:
    """Corpus scores of a set of translations."""

    bleu: float
    """Corpus BLEU, 0-100."""

    chrf: float
    """Corpus chrF2, 0-100."""

    scorer: str
    """What computed them (``sacrebleu`` and its version)."""

    detail: str
    """The full BLEU line (n-gram precisions, brevity penalty)."""


def create_translator(
    model: nn.Module,
    tokenizer: TextTokenizer,
    *,
    source_lang: str,
    target_lang: str,
    beam_size: int,
    max_gen_len: int,
) -> TextTranslator:
    """A beam-search translator for ``model``."""
    vocab = tokenizer.vocab_info
    assert vocab.eos_idx is not None
    generator = BeamSearchGenerator(
        eos_idx=vocab.eos_idx,
        pad_idx=vocab.pad_idx if vocab.pad_idx is not None else 0,
        beam_size=beam_size,
        max_gen_len=max_gen_len,
    )
    return TextTranslator(
        model, tokenizer, generator, source_lang=source_lang, target_lang=target_lang
    )


def translate_all(
    translator: TextTranslator, sentences: Sequence[str], *, batch_size: int = 32
) -> list[str]:
    """Translate ``sentences`` in batches (the model is put in eval mode meanwhile)."""
    model = translator.model
    was_training = model.training
    model.eval()
    out: list[str] = []
    for start in range(0, len(sentences), batch_size):
        out.extend(translator(list(sentences[start : start + batch_size])))
    model.train(was_training)
    return out


def require_sacrebleu() -> None:
    """Fail early, with the fix, when sacrebleu (the ``metrics`` extra) is missing."""
    try:
        import sacrebleu  # noqa: F401
    except ImportError:
        raise RecipeError(
            "BLEU and chrF are computed by sacrebleu, which is not installed: "
            "pip install 'seqkit[metrics]' (or sacrebleu), or set bleu.num_sentences=0."
        ) from None


def score_translations(hyps: Sequence[str], refs: Sequence[str]) -> TranslationScores:
    """Corpus BLEU and chrF of ``hyps`` against one reference each (sacrebleu's defaults:
    13a tokenization, exponential smoothing; chrF2)."""
    require_sacrebleu()
    import sacrebleu

    if len(hyps) != len(refs):
        raise RecipeError(f"{len(hyps)} translations for {len(refs)} references.")
    sb_bleu = sacrebleu.corpus_bleu(list(hyps), [list(refs)])
    sb_chrf = sacrebleu.corpus_chrf(list(hyps), [list(refs)])
    return TranslationScores(
        bleu=float(sb_bleu.score),
        chrf=float(sb_chrf.score),
        scorer=f"sacrebleu {sacrebleu.__version__}",
        detail=str(sb_bleu),
    )
