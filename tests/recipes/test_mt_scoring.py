"""Translation scores come from sacrebleu; without it, a clear error before any work."""

from __future__ import annotations

import sys

import pytest

from seqkit.recipes.errors import RecipeError
from seqkit.recipes.mt.scoring import require_sacrebleu, score_translations


def test_scores_are_sacrebleus() -> None:
    import sacrebleu

    hyps = ["the cat sat on the mat", "a dog"]
    refs = ["the cat sat on a mat", "the dog"]
    scores = score_translations(hyps, refs)
    assert scores.bleu == sacrebleu.corpus_bleu(hyps, [refs]).score
    assert scores.chrf == sacrebleu.corpus_chrf(hyps, [refs]).score
    assert scores.scorer.startswith("sacrebleu ")


def test_missing_sacrebleu_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sacrebleu", None)  # makes `import sacrebleu` fail
    with pytest.raises(RecipeError, match=r"pip install 'seqkit\[metrics\]'"):
        require_sacrebleu()
    with pytest.raises(RecipeError, match=r"bleu\.num_sentences=0"):
        score_translations(["a"], ["a"])
