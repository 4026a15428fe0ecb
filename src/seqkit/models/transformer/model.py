"""The encoder-decoder transformer for translation."""

from __future__ import annotations

import math
from typing import Final, final

from torch import Tensor
from torch.nn import Dropout, Embedding, Linear, Module
from typing_extensions import override

from seqkit.models.transformer.config import TRANSFORMER_FAMILY, TransformerConfig
from seqkit.nn import (
    BatchLayout,
    IncrementalStateBag,
    TransformerDecoder,
    TransformerEncoder,
    build_cross_attention_mask,
    build_self_attention_mask,
    track_key_padding,
)


@final
class TransformerFrontend(Module):
    """Token embedding, scaled by sqrt(model_dim), plus positions, then dropout."""

    def __init__(self, embed: Embedding, pos_encoder: Module, *, scale: bool, dropout_p: float):
        super().__init__()
        self.embed = embed
        self.pos_encoder = pos_encoder
        self.scale = math.sqrt(embed.embedding_dim) if scale else 1.0
        self.dropout = Dropout(dropout_p)

    @override
    def forward(self, seqs: Tensor, positions: Tensor) -> Tensor:
        x = self.embed(seqs) * self.scale
        out: Tensor = self.dropout(self.pos_encoder(x, positions))
        return out


@final
class TransformerModel(Module):
    """``logits = model(src_seqs, src_layout, tgt_seqs, tgt_layout)``.

    State-dict layout: ``encoder_frontend.embed.weight`` (the same tensor as
    ``decoder_frontend.embed.weight`` and ``final_proj.weight`` when shared/tied),
    ``encoder_frontend.pos_encoder.embed.weight`` (learned positions only),
    ``encoder.layers.{i}.{self_attn,self_attn_norm,ffn,ffn_norm}.*``,
    ``decoder.layers.{i}.{self_attn,self_attn_norm,cross_attn,cross_attn_norm,ffn,ffn_norm}.*``,
    ``encoder.layer_norm.*``/``decoder.layer_norm.*`` (pre-norm only), ``final_proj.weight``.
    """

    family: Final = TRANSFORMER_FAMILY

    def __init__(
        self,
        config: TransformerConfig,
        encoder_frontend: TransformerFrontend,
        encoder: TransformerEncoder,
        decoder_frontend: TransformerFrontend,
        decoder: TransformerDecoder,
        final_proj: Linear,
    ) -> None:
        super().__init__()
        self.config = config
        self.encoder_frontend = encoder_frontend
        self.encoder = encoder
        self.decoder_frontend = decoder_frontend
        self.decoder = decoder
        self.final_proj = final_proj

    def encode(
        self, src_seqs: Tensor, src_layout: BatchLayout | None = None
    ) -> tuple[Tensor, BatchLayout | None]:
        """Encode ``[B, S_src]`` source ids; return ``[B, S_src, D]`` and the source layout."""
        if src_layout is not None:
            src_layout.check(src_seqs)
        seq_len, device = src_seqs.shape[1], src_seqs.device
        positions = (src_layout or BatchLayout()).positions(seq_len, device)
        mask = build_self_attention_mask(src_layout, seq_len, device, causal=False)
        x = self.encoder_frontend(src_seqs, positions)
        out: Tensor = self.encoder(x, mask)
        return out, src_layout

    def decode(
        self,
        tgt_seqs: Tensor,
        tgt_layout: BatchLayout | None,
        encoder_output: Tensor,
        encoder_layout: BatchLayout | None,
        *,
        state_bag: IncrementalStateBag | None = None,
        last_only: bool = False,
    ) -> Tensor:
        """Return ``[B, S_tgt, vocab]`` next-token logits given the encoder output.

        With ``state_bag``, ``tgt_seqs`` are the new target positions from
        ``state_bag.step_nr`` on; the caller advances the bag afterwards. With
        ``last_only`` only the last column is projected (``[B, 1, vocab]``).
        """
        if tgt_layout is not None:
            tgt_layout.check(tgt_seqs)
        seq_len, device = tgt_seqs.shape[1], tgt_seqs.device
        start = 0 if state_bag is None else state_bag.step_nr
        positions = (tgt_layout or BatchLayout()).positions(seq_len, device, start=start)
        key_valid = None
        if state_bag is not None:
            key_valid = track_key_padding(self, tgt_seqs, tgt_layout, state_bag)
        mask = build_self_attention_mask(
            tgt_layout, seq_len, device, causal=True, start=start, key_valid=key_valid
        )
        enc_mask = build_cross_attention_mask(encoder_layout, encoder_output.shape[1], device)
        x = self.decoder_frontend(tgt_seqs, positions)
        hidden = self.decoder(
            x, mask, encoder_output=encoder_output, encoder_mask=enc_mask, state_bag=state_bag
        )
        if last_only:
            hidden = hidden[:, -1:]
        out: Tensor = self.final_proj(hidden)
        return out

    @override
    def forward(
        self,
        src_seqs: Tensor,
        src_layout: BatchLayout | None,
        tgt_seqs: Tensor,
        tgt_layout: BatchLayout | None,
    ) -> Tensor:
        """Teacher-forced logits ``[B, S_tgt, vocab]``."""
        encoder_output, encoder_layout = self.encode(src_seqs, src_layout)
        return self.decode(tgt_seqs, tgt_layout, encoder_output, encoder_layout)
