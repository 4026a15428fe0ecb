"""Tiny models that follow seqkit's model contract, for generation tests.

They keep their own key/value cache in the state bag, so a generator that forgot to
increment ``step_nr`` or to reorder the bag would produce different tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from seqkit.nn.batch_layout import BatchLayout
from seqkit.nn.incremental_state import IncrementalState, IncrementalStateBag


class KVState(IncrementalState):
    def __init__(self, k: Tensor, v: Tensor) -> None:
        self.k, self.v = k, v
        self.num_reorders = 0

    def reorder(self, new_order: Tensor) -> None:
        self.k = self.k.index_select(0, new_order)
        self.v = self.v.index_select(0, new_order)
        self.num_reorders += 1


class TinyAttention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)

    def forward(self, x: Tensor, state_bag: IncrementalStateBag | None) -> Tensor:
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        start = 0
        if state_bag is not None:
            start = state_bag.step_nr
            state = state_bag.get_state(self, KVState)
            if state is None:
                assert start == 0, "the first call with a bag must start at step 0"
                state = KVState(k, v)
                state_bag.set_state(self, state)
            else:
                state.k = torch.cat([state.k, k], dim=1)
                state.v = torch.cat([state.v, v], dim=1)
            k, v = state.k, state.v
        s, t = q.size(1), k.size(1)
        mask = torch.arange(t)[None, :] <= (torch.arange(s)[:, None] + start)
        att = (q @ k.transpose(1, 2)) / q.size(-1) ** 0.5
        att = att.masked_fill(~mask, -torch.inf).softmax(-1)
        return x + att @ v


class TinyDecoderModel(nn.Module):
    """A one-layer causal transformer LM: ``logits = model(seqs, layout, state_bag=)``."""

    family = "tiny"

    def __init__(self, vocab_size: int = 13, dim: int = 16, max_len: int = 64) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, dim)
        self.pos = nn.Embedding(max_len, dim)
        self.attn = TinyAttention(dim)
        self.out = nn.Linear(dim, vocab_size)
        self.config = {"vocab_size": vocab_size, "dim": dim}

    def forward(
        self,
        seqs: Tensor,
        layout: BatchLayout | None = None,
        *,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        start = 0 if state_bag is None else state_bag.step_nr
        pos = torch.arange(start, start + seqs.size(1))
        x = self.embed(seqs) + self.pos(pos)
        return self.out(self.attn(x, state_bag)) * 3.0


class TinyEncoderDecoderModel(nn.Module):
    """A one-layer encoder-decoder: the decoder adds a padding-aware mean of the encoder output."""

    family = "tiny_seq2seq"

    def __init__(self, vocab_size: int = 13, dim: int = 16) -> None:
        super().__init__()
        self.src_embed = nn.Embedding(vocab_size, dim)
        self.enc_proj = nn.Linear(dim, dim)
        self.decoder = TinyDecoderModel(vocab_size, dim)
        self.config = {"vocab_size": vocab_size, "dim": dim}

    def encode(
        self, src_seqs: Tensor, src_layout: BatchLayout | None
    ) -> tuple[Tensor, BatchLayout | None]:
        return torch.tanh(self.enc_proj(self.src_embed(src_seqs))), src_layout

    def decode(
        self,
        tgt_seqs: Tensor,
        tgt_layout: BatchLayout | None,
        enc_out: Tensor,
        enc_layout: BatchLayout | None,
        *,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        mask = torch.ones(enc_out.shape[:2], dtype=torch.bool)
        if enc_layout is not None and enc_layout.seq_lens is not None:
            mask = torch.arange(enc_out.size(1))[None, :] < enc_layout.seq_lens[:, None]
        ctx = (enc_out * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)
        d = self.decoder
        start = 0 if state_bag is None else state_bag.step_nr
        pos = torch.arange(start, start + tgt_seqs.size(1))
        x = d.embed(tgt_seqs) + d.pos(pos) + ctx[:, None, :]
        return d.out(d.attn(x, state_bag)) * 3.0

    def forward(
        self,
        src_seqs: Tensor,
        src_layout: BatchLayout | None,
        tgt_seqs: Tensor,
        tgt_layout: BatchLayout | None = None,
    ) -> Tensor:
        enc_out, enc_layout = self.encode(src_seqs, src_layout)
        return self.decode(tgt_seqs, tgt_layout, enc_out, enc_layout)


class BigramModel(nn.Module):
    """Hand-set logits: the next-token log-probabilities depend only on the last token."""

    family = "bigram"

    def __init__(self, table: Tensor) -> None:
        super().__init__()
        self.register_buffer("table", table)
        self.config = {"vocab_size": table.size(0)}

    def forward(
        self,
        seqs: Tensor,
        layout: BatchLayout | None = None,
        *,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        return self.table[seqs]
