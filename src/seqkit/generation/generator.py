"""The generator role and the options every generator shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch
from torch import Tensor
from torch.nn import Module

from seqkit.generation.errors import GenerationError
from seqkit.generation.output import GenerationOutput
from seqkit.generation.step_processor import MinLengthProcessor, StepProcessor


class SequenceGenerator(ABC):
    """Continues prompts with a decoder-only or encoder-decoder model.

    Prompts of different lengths are batched: the model prefills the shortest prompt
    length at once, then runs one position per step, forcing the remaining prompt
    tokens of longer prompts, so the KV cache never holds padding.
    """

    def __init__(
        self,
        *,
        eos_idx: int,
        pad_idx: int = 0,
        max_gen_len: int = 128,
        min_gen_len: int = 0,
        step_processors: Sequence[StepProcessor] = (),
    ) -> None:
        if max_gen_len < 1:
            raise GenerationError(f"max_gen_len must be >= 1, got {max_gen_len}.")
        if not 0 <= min_gen_len <= max_gen_len:
            raise GenerationError(
                f"min_gen_len must be between 0 and max_gen_len={max_gen_len}, got {min_gen_len}."
            )
        self.eos_idx = eos_idx
        self.pad_idx = pad_idx
        self.max_gen_len = max_gen_len
        self.min_gen_len = min_gen_len
        processors = list(step_processors)
        if min_gen_len > 0:
            processors.append(MinLengthProcessor(min_gen_len, eos_idx))
        self.step_processors = processors

    @abstractmethod
    def generate(
        self,
        model: Module,
        prompts: Sequence[Tensor],
        *,
        sources: Sequence[Tensor] | None = None,
    ) -> GenerationOutput:
        """Continue each prompt (1-D LongTensor); for encoder-decoder models ``sources[i]``
        is the source of ``prompts[i]`` (the target prefix, e.g. ``[EOS, __es__]``)."""

    def process_logits(self, seqs: Tensor, logits: Tensor, gen_lens: Tensor) -> Tensor:
        """Run the step processors on ``logits [B, V]``; return float log-probabilities."""
        logits = logits.float()
        for processor in self.step_processors:
            processor(seqs, logits, gen_lens)
        return torch.log_softmax(logits, dim=-1)
