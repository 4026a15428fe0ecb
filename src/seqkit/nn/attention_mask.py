"""Attention masks built once per forward pass and shared by every layer."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

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


def build_self_attention_mask(
    layout: BatchLayout | None,
    seq_len: int,
    device: torch.device,
    *,
    causal: bool,
    start: int = 0,
    key_valid: Tensor | None = None,
) -> AttentionMask:
    """The self-attention mask for ``seq_len`` new queries at positions ``start...``.

    ``key_valid`` (``[B, start + seq_len]`` bool) marks the valid keys of a KV cache that
    already holds ``start`` positions; without a cache, keys are the queries themselves.
    """
    layout = layout or BatchLayout()
    if layout.is_packed and start != 0:
        raise BatchLayoutError(
            "Packed layouts are for full (training) passes; incremental decoding takes "
            "right-padded batches."
        )
    doc_ids = layout.document_ids(seq_len, device)
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
