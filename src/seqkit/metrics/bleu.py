"""Corpus BLEU (Papineni et al., 2002) with sacreBLEU's defaults.

Scores match ``sacrebleu.corpus_bleu(hyps, refs)`` (tokenizer ``13a``, exponential
smoothing, closest reference length), so numbers are comparable with published ones.
The ``13a`` tokenizer follows the rules of the WMT ``mteval-v13a.pl`` script.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from seqkit.errors import SeqkitError

MAX_NGRAM_ORDER: Final = 4


class ReferenceMismatchError(SeqkitError, ValueError):
    """Hypotheses and reference streams are not aligned one to one."""


def check_references(hyps: Sequence[str], refs: Sequence[Sequence[str]]) -> None:
    """Raise unless every reference stream has one line per hypothesis."""
    if isinstance(refs, str) or any(isinstance(stream, str) for stream in refs):
        raise ReferenceMismatchError(
            "references must be a list of reference streams, each a list of strings "
            "(one per hypothesis): pass [refs] for a single reference."
        )
    if not refs:
        raise ReferenceMismatchError("at least one reference stream is needed, got none.")
    for i, stream in enumerate(refs):
        if len(stream) != len(hyps):
            raise ReferenceMismatchError(
                f"reference stream {i} has {len(stream)} lines but there are {len(hyps)} "
                "hypotheses; every stream needs exactly one reference per hypothesis."
            )


# mteval-v13a: punctuation and symbols become tokens; '.' and ',' only when not inside
# a number; '-' only after a digit. "'" and '-' between letters stay inside words.
_SYMBOLS: Final = re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])")
_PERIOD_COMMA_AFTER: Final = re.compile(r"([^0-9])([\.,])")
_PERIOD_COMMA_BEFORE: Final = re.compile(r"([\.,])([^0-9])")
_DASH_AFTER_DIGIT: Final = re.compile(r"([0-9])(-)")


def tokenize_13a(line: str) -> str:
    """Tokenize one line as mteval-v13a does; return space-separated tokens."""
    line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
    if "&" in line:
        for entity, char in (("&quot;", '"'), ("&amp;", "&"), ("&lt;", "<"), ("&gt;", ">")):
            line = line.replace(entity, char)
    line = f" {line} "
    line = _SYMBOLS.sub(r" \1 ", line)
    line = _PERIOD_COMMA_AFTER.sub(r"\1 \2 ", line)
    line = _PERIOD_COMMA_BEFORE.sub(r" \1 \2", line)
    line = _DASH_AFTER_DIGIT.sub(r"\1 \2 ", line)
    return " ".join(line.split())


@dataclass(frozen=True, kw_only=True)
class BleuScore:
    """A corpus BLEU score and the statistics it came from."""

    score: float
    """BLEU on a 0-100 scale."""

    precisions: tuple[float, ...]
    """Smoothed n-gram precisions (0-100) for n = 1..4."""

    brevity_penalty: float
    """``exp(1 - ref_len / hyp_len)`` when the hypotheses are shorter, else 1."""

    hyp_len: int
    """Number of hypothesis tokens."""

    ref_len: int
    """Number of reference tokens (closest reference length per sentence)."""

    def __str__(self) -> str:
        precs = "/".join(f"{p:.1f}" for p in self.precisions)
        return (
            f"BLEU = {self.score:.2f} {precs} (BP = {self.brevity_penalty:.3f} "
            f"ratio = {self.hyp_len / max(self.ref_len, 1):.3f} hyp_len = {self.hyp_len} "
            f"ref_len = {self.ref_len})"
        )


def _ngrams(tokens: list[str]) -> Counter[tuple[str, ...]]:
    counts: Counter[tuple[str, ...]] = Counter()
    for n in range(1, MAX_NGRAM_ORDER + 1):
        for i in range(len(tokens) - n + 1):
            counts[tuple(tokens[i : i + n])] += 1
    return counts


def corpus_bleu(
    hyps: Sequence[str],
    refs: Sequence[Sequence[str]],
    *,
    lowercase: bool = False,
    tokenize: Literal["13a", "none"] = "13a",
) -> BleuScore:
    """Corpus BLEU of ``hyps`` against reference streams ``refs`` (``refs[k][i]`` is the
    k-th reference of hypothesis ``i``), like ``sacrebleu.corpus_bleu``."""
    check_references(hyps, refs)

    def prepare(line: str) -> list[str]:
        line = line.strip()
        if lowercase:
            line = line.lower()
        return (tokenize_13a(line) if tokenize == "13a" else line).split()

    matches = [0] * MAX_NGRAM_ORDER
    totals = [0] * MAX_NGRAM_ORDER
    hyp_len = ref_len = 0
    for i, hyp in enumerate(hyps):
        hyp_tokens = prepare(hyp)
        ref_tokens = [prepare(stream[i]) for stream in refs]
        hyp_len += len(hyp_tokens)
        # Closest reference length; on a tie the shorter one.
        ref_len += min((abs(len(r) - len(hyp_tokens)), len(r)) for r in ref_tokens)[1]
        max_ref: Counter[tuple[str, ...]] = Counter()
        for r in ref_tokens:
            max_ref |= _ngrams(r)
        for ngram, count in _ngrams(hyp_tokens).items():
            n = len(ngram) - 1
            totals[n] += count
            matches[n] += min(count, max_ref[ngram])
    return _score(matches, totals, hyp_len, ref_len)


def _score(matches: list[int], totals: list[int], hyp_len: int, ref_len: int) -> BleuScore:
    precisions = [0.0] * MAX_NGRAM_ORDER
    # sacreBLEU's default "exp" smoothing: the k-th order without matches gets
    # precision 1 / (2^k * total) (the mteval-v13a rule).
    smooth = 1.0
    for n in range(MAX_NGRAM_ORDER):
        if totals[n] == 0:
            break
        if matches[n] == 0:
            smooth *= 2.0
            precisions[n] = 100.0 / (smooth * totals[n])
        else:
            precisions[n] = 100.0 * matches[n] / totals[n]
    if hyp_len == 0:
        bp = 0.0
    elif hyp_len < ref_len:
        bp = math.exp(1.0 - ref_len / hyp_len)
    else:
        bp = 1.0
    if hyp_len == 0 or min(precisions) <= 0.0:
        score = 0.0
    else:
        score = bp * math.exp(sum(math.log(p) for p in precisions) / MAX_NGRAM_ORDER)
    return BleuScore(
        score=score,
        precisions=tuple(precisions),
        brevity_penalty=bp,
        hyp_len=hyp_len,
        ref_len=ref_len,
    )
