"""Stacks of transformer layers, with the final norm that pre-norm models need."""

from __future__ import annotations

from collections.abc import Sequence
from typing import final

from torch import Tensor
from torch.nn import Module, ModuleList
from typing_extensions import override

from seqkit.nn.attention_mask import AttentionMask
from seqkit.nn.incremental_state import IncrementalStateBag
from seqkit.nn.transformer_layers import TransformerDecoderLayer, TransformerEncoderLayer


@final
class TransformerEncoder(Module):
    """Encoder layers applied in order, then ``layer_norm`` (pre-norm models only)."""

    def __init__(
        self, layers: Sequence[TransformerEncoderLayer], layer_norm: Module | None
    ) -> None:
        super().__init__()
        self.layers = ModuleList(layers)
        self.layer_norm = layer_norm

    @override
    def forward(
        self, seqs: Tensor, mask: AttentionMask, *, rotary: tuple[Tensor, Tensor] | None = None
    ) -> Tensor:
        for layer in self.layers:
            seqs = layer(seqs, mask, rotary=rotary)
        if self.layer_norm is not None:
            seqs = self.layer_norm(seqs)
        return seqs


@final
class TransformerDecoder(Module):
    """Decoder layers applied in order, then ``layer_norm`` (pre-norm models only)."""

    def __init__(
        self, layers: Sequence[TransformerDecoderLayer], layer_norm: Module | None
    ) -> None:
        super().__init__()
        self.layers = ModuleList(layers)
        self.layer_norm = layer_norm

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
        for layer in self.layers:
            seqs = layer(
                seqs,
                mask,
                rotary=rotary,
                encoder_output=encoder_output,
                encoder_mask=encoder_mask,
                state_bag=state_bag,
            )
        if self.layer_norm is not None:
            seqs = self.layer_norm(seqs)
        return seqs
