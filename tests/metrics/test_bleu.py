from __future__ import annotations

import random
from pathlib import Path

import pytest
import sacrebleu
from hypothesis import given, settings
from hypothesis import strategies as st
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from seqkit.metrics.bleu import ReferenceMismatchError, corpus_bleu, tokenize_13a

BIBLE = Path(__file__).resolve().parents[2] / "datasets" / "bible"


def _lines(name: str, n: int = 300) -> list[str]:
    return (BIBLE / name).read_text(encoding="utf-8").splitlines()[:n]


def _perturb(lines: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    extra = ["the", "And", "1,000", "3.5", "x-2", "&amp;", "it's", "(LORD)", "U.S.A."]
    out = []
    for line in lines:
        words = line.split()
        for _ in range(4):
            if words and rng.random() < 0.5:
                words.pop(rng.randrange(len(words)))
            else:
                words.insert(rng.randrange(len(words) + 1), rng.choice(extra))
        out.append(" ".join(words))
    return out


@pytest.mark.parametrize("lowercase", [False, True])
def test_matches_sacrebleu_with_one_and_two_references(lowercase) -> None:
    kjv, web = _lines("kjv-rv1909.en"), _lines("web.en")
    hyps = _perturb(kjv, seed=1)
    for refs in ([kjv], [kjv, web]):
        ours = corpus_bleu(hyps, refs, lowercase=lowercase)
        theirs = sacrebleu.corpus_bleu(hyps, refs, lowercase=lowercase)
        assert ours.score == pytest.approx(theirs.score, abs=1e-9)
        assert list(ours.precisions) == pytest.approx(theirs.precisions, abs=1e-9)
        assert ours.brevity_penalty == pytest.approx(theirs.bp, abs=1e-12)
        assert (ours.hyp_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)


def test_smoothing_short_hypotheses_and_no_tokenization_match_sacrebleu() -> None:
    hyps = ["a cat", "the dog sat", "on"]
    refs = [["a cat sat on the mat", "the dog sat down", "on it"]]
    for tokenize in ("13a", "none"):
        ours = corpus_bleu(hyps, refs, tokenize=tokenize)
        theirs = sacrebleu.corpus_bleu(hyps, refs, tokenize=tokenize)
        assert ours.score == pytest.approx(theirs.score, abs=1e-9)
    assert corpus_bleu(["x"], [["y z"]]).score == sacrebleu.corpus_bleu(["x"], [["y z"]]).score
    assert corpus_bleu([""], [["a b"]]).score == 0.0


def test_identical_corpus_scores_100() -> None:
    ref = _lines("web.en", 50)
    score = corpus_bleu(ref, [ref])
    assert score.score == pytest.approx(100.0)
    assert str(score).startswith("BLEU = 100.00")


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab1.,-'&;:()<>/\"$ \nxyz0", max_size=40))
def test_13a_tokenizer_agrees_with_sacrebleu(text) -> None:
    assert tokenize_13a(text) == Tokenizer13a()(text)


def test_misaligned_references_are_reported() -> None:
    with pytest.raises(ReferenceMismatchError, match="stream 0 has 1 lines but there are 2"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(ReferenceMismatchError, match="pass \\[refs\\]"):
        corpus_bleu(["a"], ["a"])
