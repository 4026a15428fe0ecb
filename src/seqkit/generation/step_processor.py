"""Step processors: edit next-token logits before a sampler or beam search sees them.

Each processor receives the tokens so far ``seqs [B, S]`` (prompt and generated tokens),
the raw logits ``[B, V]`` of the next position, which it edits in place, and
``gen_lens [B]``, how many tokens each row has generated so far (the index of the token
being chosen). Generators apply ``log_softmax`` afterwards, so processors work on logits
exactly like Hugging Face logits processors and need not renormalise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import final

import torch
from torch import Tensor
from typing_extensions import override

from seqkit.generation.errors import GenerationError


class StepProcessor(ABC):
    """Edits next-token logits in place."""

    @abstractmethod
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        """Edit ``logits [B, V]`` given ``seqs [B, S]`` and ``gen_lens [B]``."""


@final
class RepetitionPenaltyProcessor(StepProcessor):
    """Makes every token already in the row less likely (Keskar et al., 2019, CTRL).

    A seen token's logit is divided by ``penalty`` when positive and multiplied by it
    when negative, so ``penalty > 1`` always pushes it down. Prompt tokens count too.
    """

    def __init__(self, penalty: float) -> None:
        if not penalty > 0.0:
            raise GenerationError(f"repetition penalty must be > 0, got {penalty}.")
        self.penalty = penalty

    @override
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        if seqs.size(1) == 0 or self.penalty == 1.0:
            return
        seen = logits.gather(1, seqs)
        seen = torch.where(seen > 0, seen / self.penalty, seen * self.penalty)
        logits.scatter_(1, seqs, seen)


@final
class BannedTokenProcessor(StepProcessor):
    """Never lets the listed token ids be chosen (e.g. PAD or UNK)."""

    def __init__(self, token_ids: Iterable[int]) -> None:
        self.token_ids = sorted(set(token_ids))
        if any(idx < 0 for idx in self.token_ids):
            raise GenerationError(f"banned token ids must be >= 0, got {self.token_ids}.")

    @override
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        if self.token_ids:
            _check_ids(self.token_ids, logits.size(-1), "banned")
            logits[:, self.token_ids] = -torch.inf


@final
class ForcedTokenProcessor(StepProcessor):
    """Forces given tokens at given generation steps, e.g. BOS or a ``__es__`` language tag.

    ``tokens`` maps a generation step (0 = the first generated token) to the token id
    that must appear there.
    """

    def __init__(self, tokens: Mapping[int, int]) -> None:
        if any(step < 0 for step in tokens):
            raise GenerationError(f"forced-token steps must be >= 0, got {dict(tokens)}.")
        self.tokens = dict(tokens)

    @override
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        _check_ids(self.tokens.values(), logits.size(-1), "forced")
        for step, token in self.tokens.items():
            rows = gen_lens == step
            if bool(rows.any()):
                logits[rows] = -torch.inf
                logits[rows, token] = 0.0


@final
class MinLengthProcessor(StepProcessor):
    """Bans EOS until a row has generated ``min_len`` tokens (EOS excluded)."""

    def __init__(self, min_len: int, eos_idx: int) -> None:
        if min_len < 0:
            raise GenerationError(f"min_len must be >= 0, got {min_len}.")
        self.min_len = min_len
        self.eos_idx = eos_idx

    @override
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        if self.min_len > 0:
            logits[gen_lens < self.min_len, self.eos_idx] = -torch.inf


@final
class VocabularyLimitProcessor(StepProcessor):
    """Bans ids ``>= size``: a model's output layer can be wider than its tokenizer's
    vocabulary (rows padded to a multiple of 64 for speed), and those ids decode to nothing.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise GenerationError(f"vocabulary size must be >= 1, got {size}.")
        self.size = size

    @override
    def __call__(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> None:
        if logits.size(-1) > self.size:
            logits[:, self.size :] = -torch.inf


def _check_ids(ids: Iterable[int], vocab_size: int, what: str) -> None:
    bad = [idx for idx in ids if idx >= vocab_size]
    if bad:
        raise GenerationError(
            f"{what} token ids {bad} are outside the model's vocabulary of size {vocab_size}."
        )
