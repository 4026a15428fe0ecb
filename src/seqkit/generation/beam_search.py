"""Beam search with a KV cache that is reordered, never recomputed."""

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
from seqkit.generation.step_processor import StepProcessor


@final
class BeamSearchGenerator(SequenceGenerator):
    """Keeps the ``beam_size`` best partial hypotheses of every prompt.

    Each step ranks ``2 * beam_size`` candidates per prompt; an EOS among the top
    ``beam_size`` finishes a hypothesis, whose score is its summed log-probability divided
    by ``len ** length_penalty`` (``len`` counts EOS). A prompt is done once it has
    ``beam_size`` finished hypotheses or hits ``max_gen_len`` (its live beams are then
    finished as they are); decoding stops when every prompt is done.
    """

    def __init__(
        self,
        *,
        eos_idx: int,
        beam_size: int = 4,
        n_best: int | None = None,
        length_penalty: float = 1.0,
        pad_idx: int = 0,
        max_gen_len: int = 128,
        min_gen_len: int = 0,
        step_processors: Sequence[StepProcessor] = (),
    ) -> None:
        super().__init__(
            eos_idx=eos_idx,
            pad_idx=pad_idx,
            max_gen_len=max_gen_len,
            min_gen_len=min_gen_len,
            step_processors=step_processors,
        )
        if beam_size < 1:
            raise GenerationError(f"beam_size must be >= 1, got {beam_size}.")
        n_best = beam_size if n_best is None else n_best
        if not 1 <= n_best <= beam_size:
            raise GenerationError(
                f"n_best must be between 1 and beam_size={beam_size}, got {n_best}."
            )
        self.beam_size = beam_size
        self.n_best = n_best
        self.length_penalty = length_penalty

    @override
    @torch.inference_mode()
    def generate(
        self,
        model: Module,
        prompts: Sequence[Tensor],
        *,
        sources: Sequence[Tensor] | None = None,
    ) -> GenerationOutput:
        k, batch = self.beam_size, len(prompts)
        batch_rows = decode_batch(
            prompts, sources, copies=k, max_gen_len=self.max_gen_len, pad_idx=self.pad_idx
        )
        prompt_lens, lens, row_sources = batch_rows.prompt_lens, batch_rows.lens, batch_rows.sources
        seqs, min_len, total_len = batch_rows.seqs, batch_rows.min_len, batch_rows.total_len
        device = seqs.device
        step_scores = torch.zeros(seqs.shape, dtype=torch.float32, device=device)
        # Only beam 0 is live at first, so the k identical copies of a prompt do not
        # fill the beam with k copies of the same hypothesis.
        beam_scores = torch.full((batch, k), -torch.inf, device=device)
        beam_scores[:, 0] = 0.0
        base = torch.arange(batch, device=device)[:, None] * k
        finished: list[list[Hypothesis]] = [[] for _ in range(batch)]
        done = [False] * batch

        decoder = CachedDecoder(
            model, max_num_steps=total_len, sources=row_sources, pad_idx=self.pad_idx
        )
        logits = decoder(seqs[:, :min_len])
        num_steps = 1
        for pos in range(min_len, total_len):
            log_probs = self.process_logits(seqs[:, :pos], logits[:, -1], pos - lens)
            forced = pos < lens
            if bool(forced.any()):
                # A prompt token still to be read: its only continuation, at no cost.
                one_hot = torch.zeros_like(log_probs, dtype=torch.bool)
                one_hot.scatter_(1, seqs[:, pos : pos + 1], True)
                log_probs = torch.where(
                    forced[:, None], torch.where(one_hot, 0.0, -torch.inf), log_probs
                )
            vocab = log_probs.size(-1)
            cand = (beam_scores.view(-1, 1) + log_probs).view(batch, k * vocab)
            top_scores, top_idx = cand.topk(min(2 * k, k * vocab), dim=-1)
            top_beam, top_tok = top_idx // vocab, top_idx % vocab
            item_forced = forced.view(batch, k)[:, :1]
            is_eos = (top_tok == self.eos_idx) & ~item_forced & top_scores.isfinite()

            src_rows = base + top_beam
            if bool(is_eos[:, :k].any()):
                self._finish_eos(
                    finished,
                    done,
                    is_eos,
                    src_rows,
                    top_tok,
                    top_scores,
                    seqs,
                    step_scores,
                    beam_scores,
                    prompt_lens,
                    pos,
                )

            # The k best candidates that did not end with EOS carry on.
            live = top_scores.masked_fill(is_eos, -torch.inf).topk(k, dim=-1).indices
            new_rows = src_rows.gather(1, live).view(-1)
            new_tok = top_tok.gather(1, live).view(-1)
            new_scores = top_scores.gather(1, live)
            prev_scores = beam_scores.view(-1)[new_rows]
            seqs = seqs[new_rows]
            step_scores = step_scores[new_rows]
            seqs[:, pos] = new_tok
            step_scores[:, pos] = new_scores.view(-1) - prev_scores
            beam_scores = new_scores

            for b in range(batch):
                at_limit = pos + 1 - prompt_lens[b] >= self.max_gen_len
                if not done[b] and (at_limit or pos + 1 == total_len):
                    for j in range(k):
                        if len(finished[b]) >= k or not bool(beam_scores[b, j].isfinite()):
                            break
                        finished[b].append(
                            self._hypothesis(
                                seqs[b * k + j],
                                step_scores[b * k + j],
                                prompt_lens[b],
                                pos + 1,
                                float(beam_scores[b, j]),
                                eos=False,
                            )
                        )
                    done[b] = True
            if all(done):
                break
            decoder.reorder(new_rows)
            logits = decoder(seqs[:, pos : pos + 1])
            num_steps += 1

        hyps = [
            sorted(group, key=lambda h: h.score, reverse=True)[: self.n_best] for group in finished
        ]
        return GenerationOutput(hypotheses=hyps, num_steps=num_steps)

    def _finish_eos(
        self,
        finished: list[list[Hypothesis]],
        done: list[bool],
        is_eos: Tensor,
        src_rows: Tensor,
        top_tok: Tensor,
        top_scores: Tensor,
        seqs: Tensor,
        step_scores: Tensor,
        beam_scores: Tensor,
        prompt_lens: list[int],
        pos: int,
    ) -> None:
        k = self.beam_size
        flat_scores = beam_scores.view(-1)
        for b, j in is_eos[:, :k].nonzero().tolist():
            if done[b]:
                continue
            row = int(src_rows[b, j])
            seq = seqs[row].clone()
            seq[pos] = top_tok[b, j]
            scores = step_scores[row].clone()
            scores[pos] = top_scores[b, j] - flat_scores[row]
            total = float(top_scores[b, j])
            finished[b].append(
                self._hypothesis(seq, scores, prompt_lens[b], pos + 1, total, eos=True)
            )
            if len(finished[b]) >= k:
                done[b] = True

    def _hypothesis(
        self, seq: Tensor, scores: Tensor, start: int, stop: int, total: float, *, eos: bool
    ) -> Hypothesis:
        gen_len = stop - start
        return Hypothesis(
            tokens=seq[start:stop].clone(),
            score=total / (gen_len**self.length_penalty),
            step_scores=scores[start:stop].clone(),
            finished=eos,
        )
