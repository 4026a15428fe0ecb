from __future__ import annotations

import pytest
import torch

from seqkit.nn import BatchLayout, BatchLayoutError, build_self_attention_mask


def test_padding_mask_marks_valid_positions() -> None:
    layout = BatchLayout(torch.tensor([3, 1]))
    mask = layout.padding_mask(4, torch.device("cpu"))
    assert mask is not None
    assert mask.tolist() == [[True, True, True, False], [True, False, False, False]]
    assert BatchLayout().padding_mask(4, torch.device("cpu")) is None


def test_packed_layout_restarts_positions_and_numbers_documents() -> None:
    layout = BatchLayout.packed([[2, 3], [4]])
    assert layout.is_packed
    assert layout.seq_lens is not None
    assert layout.seq_lens.tolist() == [5, 4]
    positions = layout.positions(5, torch.device("cpu"))
    assert positions.tolist() == [[0, 1, 0, 1, 2], [0, 1, 2, 3, 0]]
    doc_ids = layout.document_ids(5, torch.device("cpu"))
    assert doc_ids is not None
    assert doc_ids.tolist() == [[0, 0, 1, 1, 1], [0, 0, 0, 0, -1]]


def test_packed_mask_blocks_attention_across_documents() -> None:
    layout = BatchLayout.packed([[2, 2]])
    mask = build_self_attention_mask(layout, 4, torch.device("cpu"), causal=True).mask
    assert mask is not None
    expected = [
        [True, False, False, False],
        [True, True, False, False],
        [False, False, True, False],
        [False, False, True, True],
    ]
    assert mask[0, 0].tolist() == expected


def test_unpadded_causal_mask_uses_the_fused_causal_flag() -> None:
    mask = build_self_attention_mask(None, 5, torch.device("cpu"), causal=True)
    assert mask.mask is None
    assert mask.is_causal


def test_layout_rejects_a_batch_it_does_not_describe() -> None:
    layout = BatchLayout(torch.tensor([3, 5]))
    with pytest.raises(BatchLayoutError, match="only 4 wide"):
        layout.check(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(BatchLayoutError, match="3 rows"):
        layout.check(torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(BatchLayoutError, match="length <= 0"):
        BatchLayout.packed([[2, 0]])
    with pytest.raises(BatchLayoutError, match="1-D"):
        BatchLayout(torch.zeros(2, 2, dtype=torch.long))


def test_full_rows_keep_the_fused_path_and_packed_rejects_a_cache() -> None:
    full = BatchLayout(torch.tensor([4, 4]))
    mask = build_self_attention_mask(full, 4, torch.device("cpu"), causal=True)
    assert mask.mask is None
    assert mask.is_causal
    packed = BatchLayout.packed([[2, 2]])
    with pytest.raises(BatchLayoutError, match="incremental decoding"):
        build_self_attention_mask(packed, 4, torch.device("cpu"), causal=True, start=3)
