"""The Llama decoder-only language model."""

from __future__ import annotations

from typing import Final, final

from torch import Tensor
from torch.nn import Dropout, Embedding, Linear, Module
from typing_extensions import override

from seqkit.models.llama.config import LLAMA_FAMILY, LlamaConfig
from seqkit.nn import (
    BatchLayout,
    IncrementalStateBag,
    RotaryEncoder,
    TransformerDecoder,
    build_self_attention_mask,
    track_key_padding,
)


@final
class LlamaModel(Module):
    """``logits = model(seqs, layout, state_bag=...)`` over ``[B, S]`` token ids.

    State-dict layout: ``embed.weight``, ``decoder.layers.{i}.self_attn_norm.weight``,
    ``decoder.layers.{i}.self_attn.{q,k,v}_proj.{weight,bias}``,
    ``decoder.layers.{i}.self_attn.output_proj.weight``, ``decoder.layers.{i}.ffn_norm.weight``,
    ``decoder.layers.{i}.ffn.{gate,inner,output}_proj.weight``, ``decoder.layer_norm.weight``,
    ``final_proj.weight`` (the same tensor as ``embed.weight`` when tied).
    """

    family: Final = LLAMA_FAMILY

    def __init__(
        self,
        config: LlamaConfig,
        embed: Embedding,
        decoder: TransformerDecoder,
        final_proj: Linear,
        rope: RotaryEncoder,
    ) -> None:
        super().__init__()
        self.config = config
        self.embed = embed
        self.decoder = decoder
        self.final_proj = final_proj
        self.rope = rope
        self.dropout = Dropout(config.dropout_p)

    @override
    def forward(
        self,
        seqs: Tensor,
        layout: BatchLayout | None = None,
        *,
        state_bag: IncrementalStateBag | None = None,
        last_only: bool = False,
    ) -> Tensor:
        """Return ``[B, S, vocab]`` logits of the next token at every position.

        With ``state_bag`` the new tokens take positions ``state_bag.step_nr...`` and attend
        to the cached ones; the caller advances the bag by ``S`` afterwards. With
        ``last_only`` only the last column is projected (``[B, 1, vocab]``), which is all
        a generator needs after a prefill and spares ``S - 1`` vocabulary projections.
        """
        hidden = self.hidden_states(seqs, layout, state_bag=state_bag)
        if last_only:
            hidden = hidden[:, -1:]
        out: Tensor = self.final_proj(hidden)
        return out

    def hidden_states(
        self,
        seqs: Tensor,
        layout: BatchLayout | None = None,
        *,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        """The ``[B, S, model_dim]`` output of the final norm, before the vocabulary projection."""
        if layout is not None:
            layout.check(seqs)
        seq_len, device = seqs.shape[1], seqs.device
        start = 0 if state_bag is None else state_bag.step_nr
        positions = (layout or BatchLayout()).positions(seq_len, device, start=start)
        key_valid = None
        if state_bag is not None:
            key_valid = track_key_padding(self, seqs, layout, state_bag)
        mask = build_self_attention_mask(
            layout, seq_len, device, causal=True, start=start, key_valid=key_valid
        )
        x = self.dropout(self.embed(seqs))
        rotary = self.rope(positions, x.dtype, start=start)
        out: Tensor = self.decoder(x, mask, rotary=rotary, state_bag=state_bag)
        return out
