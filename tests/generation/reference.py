"""Straightforward no-cache decoders: the behaviour the cached generators must reproduce."""

from __future__ import annotations

import torch
from torch import Tensor, nn


@torch.no_grad()
def full_logits(model: nn.Module, tokens: list[int], source: Tensor | None) -> Tensor:
    """Next-token log-probabilities after ``tokens``, recomputing the whole prefix."""
    seqs = torch.tensor([tokens])
    if source is None:
        logits = model(seqs)
    else:
        logits = model(source[None], None, seqs, None)
    return logits[0, -1].float().log_softmax(-1)


@torch.no_grad()
def greedy(model, prompt: Tensor, *, eos: int, max_gen_len: int, source=None) -> list[int]:
    tokens = prompt.tolist()
    out: list[int] = []
    for _ in range(max_gen_len):
        nxt = int(full_logits(model, tokens + out, source).argmax())
        out.append(nxt)
        if nxt == eos:
            break
    return out


@torch.no_grad()
def beam_search(
    model, prompt: Tensor, *, eos: int, k: int, max_gen_len: int, length_penalty: float, source=None
) -> list[tuple[float, list[int]]]:
    """One prompt, lists of tokens, every candidate rescored from scratch."""
    prefix = prompt.tolist()
    beams: list[tuple[float, list[int]]] = [(0.0, [])]
    finished: list[tuple[float, list[int]]] = []
    for t in range(max_gen_len):
        cands = []
        for score, toks in beams:
            lp = full_logits(model, prefix + toks, source)
            cands += [(score + float(lp[v]), [*toks, v]) for v in range(lp.numel())]
        cands.sort(key=lambda c: -c[0])
        cands = cands[: 2 * k]
        for score, toks in cands[:k]:
            if toks[-1] == eos and len(finished) < k:
                finished.append((score / len(toks) ** length_penalty, toks))
        if len(finished) >= k:
            break
        beams = [c for c in cands if c[1][-1] != eos][:k]
        if t == max_gen_len - 1:
            for score, toks in beams:
                if len(finished) < k:
                    finished.append((score / len(toks) ** length_penalty, toks))
    return sorted(finished, key=lambda c: -c[0])
