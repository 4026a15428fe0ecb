"""Sampling (and greedy) generation with a KV cache."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

import torch
from torch import Tensor
from torch.nn import Module
from typing_extensions import override

from seqkit.generation._decoding import CachedDecoder, decode_batch
from seqkit.generation.errors import GenerationError
from seqkit.generation.generator import SequenceGenerator
from seqkit.generation.output import GenerationOutput, Hypothesis
from seqkit.generation.sampler import GreedySampler, Sampler
from seqkit.generation.step_processor import StepProcessor


@final
class SamplingGenerator(SequenceGenerator):
    """Draws ``num_gens`` continuations per prompt, one token per step, with a sampler.

    With the default :class:`GreedySampler` this is greedy decoding. Pass ``seed`` for
    reproducible draws: each :meth:`generate` call then uses its own ``torch.Generator``
    seeded with it and leaves the global RNG alone.
    """

    def __init__(
        self,
        sampler: Sampler | None = None,
        *,
        eos_idx: int,
        pad_idx: int = 0,
        max_gen_len: int = 128,
        min_gen_len: int = 0,
        num_gens: int = 1,
        step_processors: Sequence[StepProcessor] = (),
        seed: int | None = None,
    ) -> None:
        super().__init__(
            eos_idx=eos_idx,
            pad_idx=pad_idx,
            max_gen_len=max_gen_len,
            min_gen_len=min_gen_len,
            step_processors=step_processors,
        )
        if num_gens < 1:
            raise GenerationError(f"num_gens must be >= 1, got {num_gens}.")
        self.sampler = sampler or GreedySampler()
        self.num_gens = num_gens
        self.seed = seed

    @override
    @torch.inference_mode()
    def generate(
        self,
        model: Module,
        prompts: Sequence[Tensor],
        *,
        sources: Sequence[Tensor] | None = None,
    ) -> GenerationOutput:
        n = self.num_gens
        batch_rows = decode_batch(
            prompts, sources, copies=n, max_gen_len=self.max_gen_len, pad_idx=self.pad_idx
        )
        prompt_lens, lens, row_sources = batch_rows.prompt_lens, batch_rows.lens, batch_rows.sources
        seqs, min_len, total_len = batch_rows.seqs, batch_rows.min_len, batch_rows.total_len
        device = seqs.device
        step_scores = torch.zeros(seqs.shape, dtype=torch.float32, device=device)
        # A row stops after max_gen_len tokens of its own, whatever its prompt length.
        end = lens + self.max_gen_len
        done = torch.zeros(seqs.shape[0], dtype=torch.bool, device=device)
        eos_pos = torch.full_like(lens, -1)

        rng = None
        if self.seed is not None:
            rng = torch.Generator(device=device)
            rng.manual_seed(self.seed)

        decoder = CachedDecoder(
            model, max_num_steps=total_len, sources=row_sources, pad_idx=self.pad_idx
        )
        logits = decoder(seqs[:, :min_len])
        num_steps = 1
        for pos in range(min_len, total_len):
            log_probs = self.process_logits(seqs[:, :pos], logits[:, -1], pos - lens)
            chosen = self.sampler(log_probs, rng)
            forced = pos < lens
            token = torch.where(forced, seqs[:, pos], chosen)
            token = token.masked_fill(done, self.pad_idx)
            seqs[:, pos] = token
            step_scores[:, pos] = log_probs.gather(1, token[:, None]).squeeze(1)
            hit_eos = (token == self.eos_idx) & ~forced & ~done
            eos_pos = torch.where(hit_eos, pos, eos_pos)
            done |= hit_eos | (pos + 1 >= end)
            if pos + 1 == total_len or bool(done.all()):
                break
            logits = decoder(seqs[:, pos : pos + 1])
            num_steps += 1

        hyps: list[list[Hypothesis]] = []
        for i in range(len(prompts)):
            group = []
            for row in range(i * n, (i + 1) * n):
                start = prompt_lens[i]
                stop = int(eos_pos[row]) + 1 if int(eos_pos[row]) >= 0 else int(end[row])
                stop = min(stop, pos + 1)
                scores = step_scores[row, start:stop].clone()
                group.append(
                    Hypothesis(
                        tokens=seqs[row, start:stop].clone(),
                        score=float(scores.sum()),
                        step_scores=scores,
                        finished=int(eos_pos[row]) >= 0,
                    )
                )
            hyps.append(group)
        return GenerationOutput(hypotheses=hyps, num_steps=num_steps)
