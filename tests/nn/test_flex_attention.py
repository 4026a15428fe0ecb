"""Packed documents on the FlexAttention path: the block mask from document ids allows
exactly the (query, key) pairs of the dense mask, and attention through it equals SDPA
under the dense mask (forward on the CPU; the CUDA backward is in tests/gpu)."""

from __future__ import annotations

import random

import pytest
import torch
from torch.nn.attention.flex_attention import create_mask

from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.nn import (
    AttentionMask,
    BatchLayout,
    build_self_attention_mask,
    dense_document_mask,
    document_block_mask,
    document_mask_mod,
    flex_attention_unsupported_reason,
)
from seqkit.nn import attention_mask as attention_mask_module

CPU = torch.device("cpu")


def _random_layout(seed: int, batch: int, seq_len: int) -> BatchLayout:
    """Rows of random documents; some rows end in padding."""
    rng = random.Random(seed)
    rows = []
    for _ in range(batch):
        total, row = rng.choice([seq_len, seq_len - rng.randint(1, 7)]), []
        while sum(row) < total:
            row.append(min(rng.randint(1, 13), total - sum(row)))
        rows.append(row)
    return BatchLayout.packed(rows)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("causal", [True, False])
def test_document_mask_mod_allows_exactly_the_dense_mask(seed: int, causal: bool) -> None:
    layout, seq_len = _random_layout(seed, 3, 37), 37
    dense = build_self_attention_mask(layout, seq_len, CPU, causal=causal, flex=False).mask
    doc_ids = layout.document_ids(seq_len, CPU)
    assert dense is not None
    assert doc_ids is not None
    from_mod = create_mask(document_mask_mod(doc_ids, causal=causal), 3, None, seq_len, seq_len)
    assert torch.equal(from_mod, dense)
    assert torch.equal(dense_document_mask(doc_ids, causal=causal), dense)


@pytest.mark.parametrize("seed", range(3))
def test_block_mask_visits_exactly_the_blocks_with_an_allowed_pair(seed: int) -> None:
    block, seq_len = 16, 80
    layout = _random_layout(seed, 2, seq_len)
    doc_ids = layout.document_ids(seq_len, CPU)
    assert doc_ids is not None
    block_mask = document_block_mask(doc_ids, causal=True, block_size=block)
    dense = dense_document_mask(doc_ids, causal=True)
    blocks = dense.view(2, 1, seq_len // block, block, seq_len // block, block).any(dim=(3, 5))
    assert torch.equal(block_mask.to_dense().bool(), blocks)
    assert int(blocks.sum()) < blocks.numel()  # blocks above the diagonal are skipped


def test_flex_is_picked_on_cuda_only_and_for_packed_rows() -> None:
    assert flex_attention_unsupported_reason(CPU) is not None
    assert flex_attention_unsupported_reason(torch.device("cuda", 0)) is None
    packed = BatchLayout.packed([[3, 5]])
    assert build_self_attention_mask(packed, 8, CPU, causal=True).block_mask is None
    flex = build_self_attention_mask(packed, 8, CPU, causal=True, flex=True)
    assert flex.mask is None
    assert flex.block_mask is not None
    dense = build_self_attention_mask(packed, 8, CPU, causal=True).mask
    assert dense is not None
    assert torch.equal(flex.materialize(), dense)  # type: ignore[arg-type]
    # Unpacked batches keep SDPA's causal kernel even when flex is asked for.
    plain = build_self_attention_mask(None, 8, CPU, causal=True, flex=True)
    assert plain == AttentionMask(is_causal=True)


@pytest.mark.parametrize("seed", range(3))
def test_llama_on_packed_rows_flex_equals_the_dense_mask(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=50, model_dim=32, num_layers=2, num_attn_heads=4, num_key_value_heads=2,
        ffn_inner_dim=64, max_seq_len=64,
    )  # fmt: skip
    model = create_llama_model(config).eval()
    seq_len = 48
    layout = _random_layout(seed, 3, seq_len)
    seqs = torch.randint(0, 50, (3, seq_len))
    with torch.no_grad():
        dense = model(seqs, layout)
        monkeypatch.setattr(attention_mask_module, "flex_attention_unsupported_reason", _none)
        assert build_self_attention_mask(layout, seq_len, CPU, causal=True).block_mask
        flex = model(seqs, layout)
    torch.testing.assert_close(flex, dense, rtol=1e-5, atol=1e-5)


def _none(device: torch.device) -> None:
    return None


def test_attention_dropout_falls_back_to_the_dense_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    config = LlamaConfig(
        vocab_size=50, model_dim=32, num_layers=1, num_attn_heads=4, num_key_value_heads=4,
        ffn_inner_dim=64, max_seq_len=64, dropout_p=0.1,
    )  # fmt: skip
    model = create_llama_model(config).train()
    monkeypatch.setattr(attention_mask_module, "flex_attention_unsupported_reason", _none)
    layout = BatchLayout.packed([[5, 11], [16]])
    logits = model(torch.randint(0, 50, (2, 16)), layout)  # FlexAttention has no CPU backward
    logits.sum().backward()
