"""Transformer encoder and decoder layers with pre- or post-normalization."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, final

import torch
from torch import Tensor
from torch.nn import Dropout, Module
from torch.utils.checkpoint import checkpoint
from typing_extensions import override

from seqkit.nn.attention import MultiheadAttention
from seqkit.nn.attention_mask import AttentionMask
from seqkit.nn.incremental_state import IncrementalStateBag

NormOrder = Literal["pre", "post"]


@final
class TransformerEncoderLayer(Module):
    """Self-attention then FFN, each wrapped in a residual connection and a norm."""

    def __init__(
        self,
        self_attn: MultiheadAttention,
        self_attn_norm: Module,
        ffn: Module,
        ffn_norm: Module,
        *,
        norm_order: NormOrder = "pre",
        dropout_p: float = 0.0,
    ) -> None:
        super().__init__()
        self.self_attn_norm = self_attn_norm
        self.self_attn = self_attn
        self.ffn_norm = ffn_norm
        self.ffn = ffn
        self.norm_order = norm_order
        self.dropout = Dropout(dropout_p)
        self.checkpoint_activations = False
        """Recompute this layer's activations in backward instead of keeping them (see
        :func:`~seqkit.nn.apply_activation_checkpointing`)."""
        self.compiled_forward: Callable[..., Tensor] | None = None
        """``torch.compile(TransformerEncoderLayer.checkpointed_forward)``, called with the
        layer as first argument, that ``forward`` runs instead (see
        :func:`~seqkit.nn.compile_layers`); unbound, so a deep copy runs its own weights."""

    @override
    def forward(
        self, seqs: Tensor, mask: AttentionMask, *, rotary: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        if self.compiled_forward is not None:
            return self.compiled_forward(self, seqs, mask, rotary=rotary)
        return self.checkpointed_forward(seqs, mask, rotary=rotary)

    def checkpointed_forward(
        self, seqs: Tensor, mask: AttentionMask, *, rotary: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        """``forward``, under activation checkpointing when it is on and autograd records."""
        if self.checkpoint_activations and torch.is_grad_enabled():
            out: Tensor = checkpoint(self._forward, seqs, mask, rotary=rotary, use_reentrant=False)
            return out
        return self._forward(seqs, mask, rotary=rotary)

    def _forward(
        self, seqs: Tensor, mask: AttentionMask, *, rotary: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        def attn(x: Tensor) -> Tensor:
            out: Tensor = self.self_attn(x, mask, rotary=rotary)
            return out

        seqs = _residual(seqs, attn, self.self_attn_norm, self.norm_order, self.dropout)
        return _residual(seqs, self.ffn, self.ffn_norm, self.norm_order, self.dropout)


@final
class TransformerDecoderLayer(Module):
    """Causal self-attention, optional cross-attention to an encoder, then FFN."""

    def __init__(
        self,
        self_attn: MultiheadAttention,
        self_attn_norm: Module,
        ffn: Module,
        ffn_norm: Module,
        *,
        cross_attn: MultiheadAttention | None = None,
        cross_attn_norm: Module | None = None,
        norm_order: NormOrder = "pre",
        dropout_p: float = 0.0,
    ) -> None:
        super().__init__()
        self.self_attn_norm = self_attn_norm
        self.self_attn = self_attn
        self.cross_attn_norm = cross_attn_norm
        self.cross_attn = cross_attn
        self.ffn_norm = ffn_norm
        self.ffn = ffn
        self.norm_order = norm_order
        self.dropout = Dropout(dropout_p)
        self.checkpoint_activations = False
        """Recompute this layer's activations in backward instead of keeping them (see
        :func:`~seqkit.nn.apply_activation_checkpointing`); never while decoding."""
        self.compiled_forward: Callable[..., Tensor] | None = None
        """``torch.compile(TransformerDecoderLayer.checkpointed_forward)``, called with the
        layer as first argument, that ``forward`` runs instead when not decoding (see
        :func:`~seqkit.nn.compile_layers`); unbound, so a deep copy runs its own weights."""

    @override
    def forward(
        self,
        seqs: Tensor,
        mask: AttentionMask,
        *,
        rotary: tuple[Tensor, Tensor] | None = None,
        encoder_output: Tensor | None = None,
        encoder_mask: AttentionMask | None = None,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        if state_bag is not None:  # decoding: one step at a time, eager, nothing to recompute
            return self._forward(
                seqs,
                mask,
                rotary=rotary,
                encoder_output=encoder_output,
                encoder_mask=encoder_mask,
                state_bag=state_bag,
            )
        if self.compiled_forward is not None:
            return self.compiled_forward(
                self,
                seqs,
                mask,
                rotary=rotary,
                encoder_output=encoder_output,
                encoder_mask=encoder_mask,
            )
        return self.checkpointed_forward(
            seqs, mask, rotary=rotary, encoder_output=encoder_output, encoder_mask=encoder_mask
        )

    def checkpointed_forward(
        self,
        seqs: Tensor,
        mask: AttentionMask,
        *,
        rotary: tuple[Tensor, Tensor] | None = None,
        encoder_output: Tensor | None = None,
        encoder_mask: AttentionMask | None = None,
    ) -> Tensor:
        """``forward`` without a KV cache, under activation checkpointing when it is on and
        autograd records."""
        if self.checkpoint_activations and torch.is_grad_enabled():
            out: Tensor = checkpoint(
                self._forward,
                seqs,
                mask,
                rotary=rotary,
                encoder_output=encoder_output,
                encoder_mask=encoder_mask,
                use_reentrant=False,
            )
            return out
        return self._forward(
            seqs, mask, rotary=rotary, encoder_output=encoder_output, encoder_mask=encoder_mask
        )

    def _forward(
        self,
        seqs: Tensor,
        mask: AttentionMask,
        *,
        rotary: tuple[Tensor, Tensor] | None = None,
        encoder_output: Tensor | None = None,
        encoder_mask: AttentionMask | None = None,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        dropout = self.dropout
        if self.norm_order == "pre" and not (dropout.training and dropout.p > 0.0):
            # The same sums as the general path below, without its per-call closures (a
            # decoding step runs every layer once per token).
            attn_out: Tensor = self.self_attn(
                self.self_attn_norm(seqs), mask, rotary=rotary, state_bag=state_bag
            )
            seqs = seqs + attn_out
            if self.cross_attn is not None and self.cross_attn_norm is not None:
                if encoder_output is None:
                    raise ValueError("this decoder layer cross-attends and needs `encoder_output`")
                cross_out: Tensor = self.cross_attn(
                    self.cross_attn_norm(seqs),
                    encoder_mask or AttentionMask(),
                    encoder_output=encoder_output,
                    state_bag=state_bag,
                )
                seqs = seqs + cross_out
            ffn_out: Tensor = self.ffn(self.ffn_norm(seqs))
            return seqs + ffn_out

        def self_attn(x: Tensor) -> Tensor:
            out: Tensor = self.self_attn(x, mask, rotary=rotary, state_bag=state_bag)
            return out

        seqs = _residual(seqs, self_attn, self.self_attn_norm, self.norm_order, self.dropout)
        if self.cross_attn is not None and self.cross_attn_norm is not None:
            if encoder_output is None:
                raise ValueError("this decoder layer cross-attends and needs `encoder_output`")
            cross_attn = self.cross_attn

            def cross(x: Tensor) -> Tensor:
                out: Tensor = cross_attn(
                    x,
                    encoder_mask or AttentionMask(),
                    encoder_output=encoder_output,
                    state_bag=state_bag,
                )
                return out

            seqs = _residual(seqs, cross, self.cross_attn_norm, self.norm_order, self.dropout)
        return _residual(seqs, self.ffn, self.ffn_norm, self.norm_order, self.dropout)


def _residual(
    seqs: Tensor,
    block: Callable[[Tensor], Tensor],
    norm: Module,
    order: NormOrder,
    dropout: Dropout,
) -> Tensor:
    if order == "pre":
        return seqs + apply_dropout(dropout, block(norm(seqs)))
    out: Tensor = norm(seqs + apply_dropout(dropout, block(seqs)))
    return out


def apply_dropout(dropout: Dropout, x: Tensor) -> Tensor:
    """``dropout(x)``, skipping the module call when it is the identity (eval or p = 0).

    Decoding calls a layer once per token; the skipped calls are pure Python overhead.
    """
    if dropout.training and dropout.p > 0.0:
        out: Tensor = dropout(x)
        return out
    return x
