"""BLEU and chrF at every validation of ``seqkit mt train``: a trainer validation scorer.

Under torchrun the work is split, not repeated: with DDP each data-parallel rank
translates every ``size``-th pair (``pairs[rank::size]``) with its full copy of the
model, the hypotheses are all-gathered (as UTF-8 bytes) into the original order, and
every rank scores the whole set, so each pair is translated once and counted once. With
FSDP every forward all-gathers the sharded weights, so all ranks must decode the same
batches for the same number of steps: each rank translates all pairs (no speed-up, no
deadlock). The trainer broadcasts rank 0's scores either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import final

import torch
from torch import nn
from typing_extensions import override

from seqkit.gang import Gang
from seqkit.generation import TextTranslator
from seqkit.recipes.mt.scoring import TranslationScores, score_translations, translate_all
from seqkit.trainer import ValidationScorer


@final
class BleuScorer(ValidationScorer):
    """Translates validation pairs with beam search and returns ``bleu`` and ``chrf``.

    :param shard: split the pairs over the data-parallel ranks (DDP); False when every
        rank must run the same forward calls (FSDP).
    """

    def __init__(
        self,
        translator: TextTranslator,
        pairs: Sequence[tuple[str, str]],
        *,
        shard: bool = True,
        batch_size: int = 32,
    ) -> None:
        self._translator = translator
        self.pairs = list(pairs)
        """The scored ``(source, reference)`` pairs."""
        self._sources = [s for s, _ in pairs]
        self._references = [t for _, t in pairs]
        self._shard = shard
        self._batch_size = batch_size
        self.last_step: int | None = None
        """Step of the last scoring (None before the first)."""
        self.last_hypotheses: list[str] = []
        """The translations of the last scoring, in the order of the pairs."""
        self.last_scores: TranslationScores | None = None
        """The scores of the last scoring."""

    @property
    def model(self) -> nn.Module:
        """The translating model."""
        return self._translator.model

    @property
    def num_pairs(self) -> int:
        """How many pairs are translated."""
        return len(self._sources)

    @override
    def __call__(self, step: int, gang: Gang) -> dict[str, float]:
        if self._shard and gang.size > 1:
            mine = self._translate(self._sources[gang.rank :: gang.size])
            shards = all_gather_texts(gang, mine)
            hyps = [shards[i % gang.size][i // gang.size] for i in range(len(self._sources))]
        else:
            hyps = self._translate(self._sources)
        scores = score_translations(hyps, self._references)
        self.last_step, self.last_hypotheses, self.last_scores = step, hyps, scores
        return {"bleu": scores.bleu, "chrf": scores.chrf}

    def _translate(self, sources: list[str]) -> list[str]:
        if not sources:
            return []
        return translate_all(self._translator, sources, batch_size=self._batch_size)


def all_gather_texts(gang: Gang, texts: list[str]) -> list[list[str]]:
    """The ``texts`` of every rank of ``gang``, in rank order (two all-gathers of bytes)."""
    payload = json.dumps(texts, ensure_ascii=False).encode("utf-8")
    device = gang.device
    size = torch.tensor([len(payload)], dtype=torch.int64, device=device)
    sizes = torch.zeros(gang.size, dtype=torch.int64, device=device)
    gang.all_gather(sizes, size)
    lengths = [int(n) for n in sizes.tolist()]
    longest = max(lengths)
    mine = torch.zeros(longest, dtype=torch.uint8, device=device)
    if payload:
        mine[: len(payload)] = torch.frombuffer(bytearray(payload), dtype=torch.uint8).to(device)
    gathered = torch.zeros(gang.size * longest, dtype=torch.uint8, device=device)
    gang.all_gather(gathered, mine)
    data = gathered.cpu().numpy().tobytes()
    out: list[list[str]] = []
    for rank, length in enumerate(lengths):
        chunk = data[rank * longest : rank * longest + length]
        out.append([str(t) for t in json.loads(chunk.decode("utf-8"))])
    return out
