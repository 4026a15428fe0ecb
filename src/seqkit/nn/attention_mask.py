"""Attention masks built once per forward pass and shared by every layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn.attention.flex_attention import BlockMask, create_block_mask

from seqkit.nn.batch_layout import BatchLayout
from seqkit.nn.errors import BatchLayoutError


@dataclass(frozen=True, kw_only=True)
class AttentionMask:
    """What SDPA needs: a boolean mask (``True`` = may attend) and/or the causal flag.

    The causal flag alone (no tensor) lets SDPA pick its fused causal kernel, which is
    what the common unpadded training batch gets.
    """

    mask: Tensor | None = None
    """``[B or 1, 1, Sq, Sk]`` bool, or ``None`` for no masking beyond ``is_causal``."""

    is_causal: bool = False
    """Whether SDPA should apply its own causal mask (only when ``mask`` is ``None``)."""

    block_mask: BlockMask | None = None
    """Packed documents on the FlexAttention path: a block-sparse mask built from
    ``document_ids`` (no ``[S, S]`` tensor); ``mask`` is then ``None``."""

    document_ids: Tensor | None = None
    """``[B, S]`` document index per position behind ``block_mask``, kept so that a layer
    FlexAttention cannot serve (attention dropout) can :meth:`materialize` the mask."""

    def materialize(self) -> Tensor | None:
        """The boolean ``[B, 1, S, S]`` mask ``block_mask`` stands for (else ``mask``)."""
        if self.document_ids is None:
            return self.mask
        return dense_document_mask(self.document_ids, causal=self.is_causal)


def document_mask_mod(doc_ids: Tensor, *, causal: bool) -> Callable[..., Tensor]:
    """FlexAttention's ``mask_mod(b, h, q, k)`` for packed rows: a real key (not padding,
    ``-1``) of the query's document and, if ``causal``, ``k <= q``; a padding query sees
    itself only (as in the dense mask: finite values, ignored downstream)."""

    def mask_mod(b: Any, h: Any, q: Any, k: Any) -> Tensor:
        key_doc = doc_ids[b, k]
        allowed: Tensor = (doc_ids[b, q] == key_doc) & (key_doc >= 0)
        if causal:
            allowed = allowed & (k <= q)
        diagonal: Tensor = q == k
        return allowed | diagonal

    return mask_mod


def dense_document_mask(doc_ids: Tensor, *, causal: bool) -> Tensor:
    """The ``[B, 1, S, S]`` bool mask of :func:`document_mask_mod`, materialized."""
    pos = torch.arange(doc_ids.shape[1], device=doc_ids.device)
    mask = (doc_ids[:, :, None] == doc_ids[:, None, :]) & (doc_ids >= 0)[:, None, :]
    if causal:
        mask = mask & (pos[None, :] <= pos[:, None])[None]
    return (mask | (pos[:, None] == pos[None, :])[None])[:, None]


def document_block_mask(doc_ids: Tensor, *, causal: bool, block_size: int = 128) -> BlockMask:
    """The FlexAttention block mask of packed rows (``doc_ids``: ``[B, S]``, ``-1`` for
    padding): only the blocks that hold an allowed (query, key) pair are visited."""
    batch, seq_len = doc_ids.shape
    return create_block_mask(
        document_mask_mod(doc_ids, causal=causal),
        batch,
        None,
        seq_len,
        seq_len,
        device=str(doc_ids.device),
        BLOCK_SIZE=block_size,
    )


def flex_attention_unsupported_reason(device: torch.device) -> str | None:
    """Why packed documents cannot take the FlexAttention path on ``device`` (``None``:
    they can). FlexAttention needs ``torch.compile`` for a fused kernel and has no
    backward on CPU, so only CUDA qualifies."""
    if device.type != "cuda":
        return f"FlexAttention trains on CUDA only, not {device.type}"
    return None


def build_self_attention_mask(
    layout: BatchLayout | None,
    seq_len: int,
    device: torch.device,
    *,
    causal: bool,
    start: int = 0,
    key_valid: Tensor | None = None,
    flex: bool | None = None,
) -> AttentionMask:
    """The self-attention mask for ``seq_len`` new queries at positions ``start...``.

    ``key_valid`` (``[B, start + seq_len]`` bool) marks the valid keys of a KV cache that
    already holds ``start`` positions; without a cache, keys are the queries themselves.

    Packed documents get a FlexAttention block mask instead of a dense ``[B, 1, S, S]``
    one when ``flex`` is true; ``None`` (the default) means where FlexAttention can run
    (:func:`flex_attention_unsupported_reason`: CUDA).
    """
    layout = layout or BatchLayout()
    if layout.is_packed and start != 0:
        raise BatchLayoutError(
            "Packed layouts are for full (training) passes; incremental decoding takes "
            "right-padded batches."
        )
    doc_ids = layout.document_ids(seq_len, device)
    if flex is None:
        flex = flex_attention_unsupported_reason(device) is None
    if flex and doc_ids is not None and key_valid is None and start == 0:
        # Packed padding is document -1 in ``doc_ids``: the block mask needs nothing else.
        return AttentionMask(
            block_mask=document_block_mask(doc_ids, causal=causal),
            document_ids=doc_ids,
            is_causal=causal,
        )
    if key_valid is None:
        key_valid = layout.padding_mask(seq_len, device)
    if start == 0 and doc_ids is None and key_valid is not None and bool(key_valid.all()):
        # A "padded" batch whose rows are all full: keep the fused kernel's fast path.
        key_valid = None
    if key_valid is None and doc_ids is None and start == 0:
        return AttentionMask(is_causal=causal)
    if key_valid is None and doc_ids is None and seq_len == 1:
        # One new query after an unpadded cache sees every key: no mask at all, which
        # spares the per-step mask build and lets SDPA take its unmasked kernel.
        return AttentionMask()

    num_keys = start + seq_len
    mask = torch.ones((1, 1, seq_len, num_keys), dtype=torch.bool, device=device)
    if causal:
        q_pos = torch.arange(start, num_keys, device=device)
        k_pos = torch.arange(num_keys, device=device)
        mask = mask & (k_pos[None, :] <= q_pos[:, None])[None, None]
    if key_valid is not None:
        mask = mask & key_valid[:, None, None, :]
    if doc_ids is not None:
        same_doc = doc_ids[:, :, None] == doc_ids[:, None, :]
        mask = mask & same_doc[:, None]
    # A padding query can end up with no key at all (packed padding); let it see itself so
    # SDPA returns finite values instead of NaN. Its output is ignored downstream.
    if start == 0:
        eye = torch.eye(seq_len, dtype=torch.bool, device=device)
        mask = mask | eye[None, None]
    return AttentionMask(mask=mask)


def build_cross_attention_mask(
    encoder_layout: BatchLayout | None, encoder_seq_len: int, device: torch.device
) -> AttentionMask:
    """The mask of decoder queries over encoder outputs: only encoder padding is hidden."""
    if encoder_layout is None:
        return AttentionMask()
    valid = encoder_layout.padding_mask(encoder_seq_len, device)
    if valid is None:
        return AttentionMask()
    return AttentionMask(mask=valid[:, None, None, :])
