"""Corpus chrF (Popović, 2015): F-score over character n-grams, as sacreBLEU computes it.

Matches ``sacrebleu.corpus_chrf(hyps, refs)`` with its defaults: character n-grams of
order 1..6, whitespace removed, ``beta = 2`` (recall weighs twice as much), statistics
summed over the corpus, and the best-scoring reference chosen per sentence.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from seqkit.metrics.bleu import check_references


@dataclass(frozen=True, kw_only=True)
class ChrfScore:
    """A corpus chrF score."""

    score: float
    """chrF on a 0-100 scale."""

    char_order: int
    """Largest character n-gram order."""

    beta: float
    """Weight of recall relative to precision."""

    def __str__(self) -> str:
        return f"chrF{self.beta:g} = {self.score:.2f}"


def _char_ngrams(text: str, order: int) -> list[Counter[str]]:
    text = "".join(text.split())
    return [Counter(text[i : i + n] for i in range(len(text) - n + 1)) for n in range(1, order + 1)]


def _stats(hyp: list[Counter[str]], ref: list[Counter[str]]) -> list[int]:
    out: list[int] = []
    for h, r in zip(hyp, ref):
        # A reference too short for this order has nothing to match against, so the
        # hypothesis's n-grams of this order are not counted either (as sacreBLEU does).
        n_hyp = sum(h.values()) if r else 0
        out += [n_hyp, sum(r.values()), sum((h & r).values())]
    return out


def _f_score(stats: Sequence[int], order: int, beta: float) -> float:
    factor = beta**2
    prec_sum = rec_sum = 0.0
    effective = 0
    for n in range(order):
        n_hyp, n_ref, n_match = stats[3 * n : 3 * n + 3]
        # Orders that the hypothesis or reference is too short for are left out of the
        # average, so short sentences are not punished twice.
        if n_hyp > 0 and n_ref > 0:
            prec_sum += n_match / n_hyp
            rec_sum += n_match / n_ref
            effective += 1
    if effective == 0:
        return 0.0
    prec, rec = prec_sum / effective, rec_sum / effective
    if prec + rec == 0.0:
        return 0.0
    return 100.0 * (1 + factor) * prec * rec / (factor * prec + rec)


def corpus_chrf(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    *,
    char_order: int = 6,
    beta: float = 2.0,
) -> ChrfScore:
    """Corpus chrF of ``hyps`` against reference streams ``refs`` (``sacrebleu.corpus_chrf``)."""
    check_references(hyps, refs)
    totals = [0] * (3 * char_order)
    for i, hyp in enumerate(hyps):
        hyp_ngrams = _char_ngrams(hyp, char_order)
        best: list[int] | None = None
        best_f = -1.0
        for stream in refs:
            stats = _stats(hyp_ngrams, _char_ngrams(stream[i], char_order))
            f = _f_score(stats, char_order, beta)
            if f > best_f:
                best, best_f = stats, f
        assert best is not None
        totals = [a + b for a, b in zip(totals, best)]
    return ChrfScore(score=_f_score(totals, char_order, beta), char_order=char_order, beta=beta)
