"""Multi-head attention over ``scaled_dot_product_attention``: self/cross, GQA, KV cache."""

from __future__ import annotations

from collections.abc import Callable
from typing import final

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import Module
from torch.nn.attention.flex_attention import flex_attention
from typing_extensions import override

from seqkit.nn.attention_mask import AttentionMask
from seqkit.nn.incremental_state import IncrementalStateBag
from seqkit.nn.kv_cache import CrossAttentionCache, SelfAttentionCache
from seqkit.nn.position_encoder import apply_rotary
from seqkit.nn.projection import FusedLinear, create_linear


@final
class MultiheadAttention(Module):
    """Multi-head attention with grouped-query attention and an optional KV cache.

    ``q_proj``/``k_proj``/``v_proj``/``output_proj`` are plain linear layers; the number
    of heads is read from the projection width at run time (``-1`` in the reshape), so a
    tensor-parallel sharder may replace them with column/row-sharded layers that produce
    only the local heads.
    """

    def __init__(
        self,
        model_dim: int,
        num_heads: int,
        *,
        num_kv_heads: int | None = None,
        head_dim: int | None = None,
        kv_dim: int | None = None,
        qkv_bias: bool = False,
        output_bias: bool = False,
        dropout_p: float = 0.0,
        init_std: float | None = None,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        num_kv_heads = num_kv_heads or num_heads
        if num_heads % num_kv_heads:
            raise ValueError(
                f"num_heads ({num_heads}) must be a multiple of num_kv_heads ({num_kv_heads})"
            )
        if head_dim is None:
            if model_dim % num_heads:
                raise ValueError(f"model_dim {model_dim} is not divisible by {num_heads} heads")
            head_dim = model_dim // num_heads
        kv_dim = kv_dim or model_dim
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim
        self.dropout_p = dropout_p

        def linear(i: int, o: int, bias: bool) -> torch.nn.Linear:
            return create_linear(i, o, bias=bias, init_std=init_std, device=device, dtype=dtype)

        self.q_proj = linear(model_dim, num_heads * head_dim, qkv_bias)
        self.k_proj = linear(kv_dim, num_kv_heads * head_dim, qkv_bias)
        self.v_proj = linear(kv_dim, num_kv_heads * head_dim, qkv_bias)
        self.output_proj = linear(num_heads * head_dim, model_dim, output_bias)
        self._fused_qkv: FusedLinear | None = None

    def fuse_projections(self) -> bool:
        """Run q/k/v as one matmul from now on when autograd is off (see :class:`FusedLinear`).

        Returns whether the projections are fused. Parameters and state dict are
        unchanged; cross-attention (keys from an encoder) keeps the separate projections.
        """
        if self._fused_qkv is not None and self._fused_qkv.is_current():
            return True
        self._fused_qkv = None
        if not FusedLinear.can_fuse((self.q_proj, self.k_proj, self.v_proj)):
            return False
        self._fused_qkv = FusedLinear(self, ("q_proj", "k_proj", "v_proj"))
        return True

    def _current_fused_qkv(self) -> FusedLinear | None:
        fused = self._fused_qkv
        if fused is None or torch.is_grad_enabled():
            return None
        if not fused.is_current():
            # Moved, cast or sharded since: drop the stale tensor for good.
            self._fused_qkv = None
            return None
        return fused

    def _split_heads(self, x: Tensor) -> Tensor:
        batch, seq_len = x.shape[0], x.shape[1]
        if seq_len == 1:
            # [B, 1, H*D] is already laid out as [B, H, 1, D]: a view, no transpose.
            return x.view(batch, -1, 1, self.head_dim)
        return x.view(batch, seq_len, -1, self.head_dim).transpose(1, 2)

    @override
    def forward(
        self,
        seqs: Tensor,
        mask: AttentionMask,
        *,
        encoder_output: Tensor | None = None,
        rotary: tuple[Tensor, Tensor] | None = None,
        state_bag: IncrementalStateBag | None = None,
    ) -> Tensor:
        """Attend from ``seqs`` ``[B, S, D]`` to itself, or to ``encoder_output`` if given.

        ``rotary`` holds the ``(cos, sin)`` tables of the query positions (self-attention
        only). With a ``state_bag``, self-attention appends its keys/values to the cache at
        ``state_bag.step_nr`` and cross-attention projects the encoder output only once.
        """
        fused = self._current_fused_qkv() if encoder_output is None else None
        if fused is not None:
            q, k, v = self._fused_self_attn_inputs(fused, seqs, rotary)
            if state_bag is not None:
                k, v = self._append_to_cache(state_bag, k, v)
            return self._attend(q, k, v, seqs, mask)
        q = self._split_heads(self.q_proj(seqs))
        if encoder_output is None:
            k = self._split_heads(self.k_proj(seqs))
            v = self._split_heads(self.v_proj(seqs))
            if rotary is not None:
                q = apply_rotary(q, *rotary)
                k = apply_rotary(k, *rotary)
            if state_bag is not None:
                k, v = self._append_to_cache(state_bag, k, v)
        else:
            cross = state_bag.get_state(self, CrossAttentionCache) if state_bag else None
            if cross is None:
                k = self._split_heads(self.k_proj(encoder_output))
                v = self._split_heads(self.v_proj(encoder_output))
                if state_bag is not None:
                    state_bag.set_state(self, CrossAttentionCache(k, v))
            else:
                k, v = cross.keys, cross.values
        return self._attend(q, k, v, seqs, mask)

    def _append_to_cache(
        self, state_bag: IncrementalStateBag, k: Tensor, v: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Append this step's keys/values to the self-attention cache (created on the first
        step) and return all the keys/values so far."""
        cache = state_bag.get_state(self, SelfAttentionCache)
        if cache is None:
            cache = SelfAttentionCache(k, v, state_bag.max_num_steps)
            state_bag.set_state(self, cache)
        return cache.append(state_bag.step_nr, k, v)

    def _fused_self_attn_inputs(
        self, fused: FusedLinear, seqs: Tensor, rotary: tuple[Tensor, Tensor] | None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values ``[B, H, S, D]`` from one q/k/v matmul.

        The queries and keys sit next to each other in the fused output, so RoPE rotates
        them in one pass.
        """
        q_size, k_size, _ = fused.sizes
        qk, v = fused(seqs).split_with_sizes([q_size + k_size, fused.sizes[2]], dim=-1)
        qk = self._split_heads(qk)
        if rotary is not None:
            qk = apply_rotary(qk, *rotary)
        num_q_heads = q_size // self.head_dim
        return qk[:, :num_q_heads], qk[:, num_q_heads:], self._split_heads(v)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, seqs: Tensor, mask: AttentionMask) -> Tensor:
        batch, seq_len = seqs.shape[0], seqs.shape[1]
        dropout_p = self.dropout_p if self.training else 0.0
        if mask.block_mask is not None and dropout_p > 0.0:
            # FlexAttention has no attention dropout: this layer takes the dense mask.
            mask = AttentionMask(mask=mask.materialize())
        if mask.block_mask is not None:
            attn = _flex_attention(q, k, v, mask)
        elif seq_len == 1 and not mask.is_causal and q.shape[1] != k.shape[1]:
            # One query per head (a decoding step): fold each GQA group's query heads into
            # the query axis, [B, H, 1, D] -> [B, H_kv, H / H_kv, D], so SDPA attends
            # without expanding the cached keys/values to every query head.
            grouped = q.view(batch, k.shape[1], -1, q.shape[3])
            attn = F.scaled_dot_product_attention(
                grouped,
                k,
                v,
                attn_mask=mask.mask,
                dropout_p=dropout_p,
            )
            attn = attn.view(batch, q.shape[1], 1, -1)
        else:
            attn = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=mask.mask,
                dropout_p=dropout_p,
                is_causal=mask.is_causal and mask.mask is None,
                enable_gqa=q.shape[1] != k.shape[1],
            )
        if seq_len == 1:
            attn = attn.reshape(batch, 1, -1)
        else:
            attn = attn.transpose(1, 2).reshape(batch, seq_len, -1)
        out: Tensor = self.output_proj(attn)
        return out

    @override
    def extra_repr(self) -> str:
        return (
            f"num_heads={self.num_heads}, num_kv_heads={self.num_kv_heads}, "
            f"head_dim={self.head_dim}"
        )


_compiled_flex: Callable[..., Tensor] | None = None


def _flex_attention(q: Tensor, k: Tensor, v: Tensor, mask: AttentionMask) -> Tensor:
    """FlexAttention over ``mask.block_mask``: compiled (a fused kernel) on CUDA, eager
    elsewhere (which materializes the scores and has no CPU backward; tests only)."""
    global _compiled_flex
    fn: Callable[..., Tensor] = flex_attention
    if q.is_cuda:
        if _compiled_flex is None:
            _compiled_flex = torch.compile(flex_attention, dynamic=False)
        fn = _compiled_flex
    out: Tensor = fn(q, k, v, block_mask=mask.block_mask, enable_gqa=q.shape[1] != k.shape[1])
    return out
