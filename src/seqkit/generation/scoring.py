"""Scoring: log-probabilities of given targets, and perplexity.

What fairseq's hub ``score()`` did: teacher-force the targets through the model and read
off the log-probability of each target token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import final

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation._decoding import as_encoder_decoder, check_prompts, pad_right
from seqkit.generation.errors import GenerationError
from seqkit.nn.batch_layout import BatchLayout


@dataclass(kw_only=True)
class ScoreOutput:
    """Log-probabilities of the scored targets."""

    token_log_probs: list[Tensor]
    """``token_log_probs[i][t]`` is ``log p(target_i[t] | context, target_i[:t])``."""

    @property
    def seq_log_probs(self) -> Tensor:
        """The summed log-probability ``[N]`` of each target."""
        return torch.stack([lp.sum() for lp in self.token_log_probs])

    @property
    def num_tokens(self) -> int:
        """How many tokens were scored in all."""
        return sum(int(lp.numel()) for lp in self.token_log_probs)

    def perplexity(self) -> float:
        """``exp`` of the mean negative log-probability per scored token."""
        if self.num_tokens == 0:
            raise GenerationError("cannot compute a perplexity over zero scored tokens.")
        return math.exp(-float(self.seq_log_probs.sum()) / self.num_tokens)


@final
class SequenceScorer:
    """Scores targets with a decoder-only or encoder-decoder model, in batches.

    For a decoder-only model each target is scored after its context (``contexts[i]``,
    e.g. BOS or a prompt); without contexts the first token of a target is the context.
    For an encoder-decoder model ``sources[i]`` is encoded and ``contexts[i]`` is the
    decoder prefix (e.g. ``<s> __es__``), which is required.
    """

    def __init__(self, model: Module, *, pad_idx: int = 0, batch_size: int = 16) -> None:
        if batch_size < 1:
            raise GenerationError(f"batch_size must be >= 1, got {batch_size}.")
        self.model = model
        self.pad_idx = pad_idx
        self.batch_size = batch_size

    @torch.inference_mode()
    def score(
        self,
        targets: Sequence[Tensor],
        *,
        contexts: Sequence[Tensor] | None = None,
        sources: Sequence[Tensor] | None = None,
    ) -> ScoreOutput:
        """Return the log-probability of every target token."""
        check_prompts(targets, "target")
        enc_dec = as_encoder_decoder(self.model)
        if enc_dec is not None and (sources is None or contexts is None):
            raise GenerationError(
                f"{type(self.model).__name__} is an encoder-decoder model: pass sources= and "
                "contexts= (the decoder prefix, e.g. BOS and the target language token)."
            )
        if enc_dec is None and sources is not None:
            raise GenerationError(
                f"{type(self.model).__name__} is decoder-only: put the context in contexts=, "
                "not sources=."
            )
        for name, extra in (("contexts", contexts), ("sources", sources)):
            if extra is not None and len(extra) != len(targets):
                raise GenerationError(
                    f"got {len(extra)} {name} for {len(targets)} targets; pass one each."
                )
        out: list[Tensor] = []
        for start in range(0, len(targets), self.batch_size):
            stop = start + self.batch_size
            out += self._score_batch(
                targets[start:stop],
                None if contexts is None else contexts[start:stop],
                None if sources is None else sources[start:stop],
            )
        return ScoreOutput(token_log_probs=out)

    def _score_batch(
        self,
        targets: Sequence[Tensor],
        contexts: Sequence[Tensor] | None,
        sources: Sequence[Tensor] | None,
    ) -> list[Tensor]:
        if contexts is None:
            # The first target token only conditions the rest.
            ctx_lens = [1] * len(targets)
            full = list(targets)
        else:
            ctx_lens = check_prompts(contexts, "context")
            full = [torch.cat([c, t]) for c, t in zip(contexts, targets)]
        lens = [int(s.numel()) for s in full]
        seqs = pad_right(full, pad_idx=self.pad_idx)
        # The last token is only predicted, never fed.
        inputs = seqs[:, :-1]
        layout = BatchLayout(torch.tensor(lens, device=seqs.device) - 1)
        enc_dec = as_encoder_decoder(self.model)
        if enc_dec is None or sources is None:
            logits = self.model(inputs, layout)
        else:
            src_lens = check_prompts(sources, "source")
            src = pad_right(sources, pad_idx=self.pad_idx)
            enc_out, enc_layout = enc_dec.encode(src, BatchLayout(src_lens))
            logits = enc_dec.decode(inputs, layout, enc_out, enc_layout)
        log_probs = torch.log_softmax(logits.float(), dim=-1)
        picked = log_probs.gather(2, seqs[:, 1:, None]).squeeze(2)
        return [picked[i, ctx_lens[i] - 1 : lens[i] - 1].clone() for i in range(len(full))]


def perplexity(model: Module, seqs: Sequence[Tensor], *, pad_idx: int = 0) -> float:
    """Perplexity of a decoder-only ``model`` on ``seqs`` (each starting with its BOS)."""
    return SequenceScorer(model, pad_idx=pad_idx).score(seqs).perplexity()
