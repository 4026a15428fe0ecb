from __future__ import annotations

import random
from pathlib import Path

import pytest
import sacrebleu

from seqkit.metrics.bleu import ReferenceMismatchError
from seqkit.metrics.chrf import corpus_chrf

BIBLE = Path(__file__).resolve().parents[2] / "datasets" / "bible"


def _lines(name: str, n: int = 200) -> list[str]:
    return (BIBLE / name).read_text(encoding="utf-8").splitlines()[:n]


def test_matches_sacrebleu_on_spanish_with_two_references() -> None:
    es = _lines("kjv-rv1909.es")
    rng = random.Random(3)
    hyps = [" ".join(w for w in line.split() if rng.random() > 0.2) for line in es]
    other = [line.replace("Dios", "Señor") for line in es]
    for refs in ([es], [other, es]):
        ours = corpus_chrf(hyps, refs)
        assert ours.score == pytest.approx(sacrebleu.corpus_chrf(hyps, refs).score, abs=1e-9)


def test_short_and_empty_sentences_match_sacrebleu() -> None:
    hyps = ["ab", "", "a b c", "xyz"]
    refs = [["abc", "q", "abc", ""]]
    assert corpus_chrf(hyps, refs).score == pytest.approx(
        sacrebleu.corpus_chrf(hyps, refs).score, abs=1e-9
    )


def test_beta_and_perfect_score() -> None:
    es = _lines("kjv-rv1909.es", 20)
    assert corpus_chrf(es, [es]).score == pytest.approx(100.0)
    hyps = [line[: len(line) // 2] for line in es]
    # Half-length hypotheses: precision stays high, recall drops, so a larger beta is lower.
    assert corpus_chrf(hyps, [es], beta=3.0).score < corpus_chrf(hyps, [es], beta=1.0).score
    assert corpus_chrf(hyps, [es], beta=1.0).score == pytest.approx(
        sacrebleu.CHRF(beta=1).corpus_score(hyps, [es]).score, abs=1e-9
    )


def test_misaligned_references_are_reported() -> None:
    with pytest.raises(ReferenceMismatchError, match="reference stream 1 has 1 lines"):
        corpus_chrf(["a", "b"], [["a", "b"], ["a"]])
