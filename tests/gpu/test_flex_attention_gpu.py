"""GPU check of packed documents on FlexAttention (``pytest -m gpu``; scripts/gpu_check.sh):
the compiled flex kernel over the document block mask gives the logits and gradients of
SDPA under the dense ``[B, 1, S, S]`` mask. FlexAttention has no CPU backward: CUDA only."""

from __future__ import annotations

import pytest
import torch

from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.nn import BatchLayout, build_self_attention_mask
from seqkit.nn import attention_mask as attention_mask_module

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="FlexAttention trains on CUDA"),
]


@pytest.mark.parametrize("seed", range(3))
def test_packed_llama_flex_equals_dense_mask_forward_and_backward(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    device = torch.device("cuda")
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=128, model_dim=128, num_layers=2, num_attn_heads=4, num_key_value_heads=2,
        ffn_inner_dim=256, max_seq_len=512,
    )  # fmt: skip
    model = create_llama_model(config).to(device)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(3):
        row: list[int] = []
        total = 300 - int(torch.randint(0, 40, (1,), generator=g))
        while sum(row) < total:
            row.append(min(int(torch.randint(1, 90, (1,), generator=g)), total - sum(row)))
        rows.append(row)
    layout = BatchLayout.packed(rows)
    seqs = torch.randint(0, 128, (3, 300), device=device)
    valid = torch.tensor([[i < sum(r) for i in range(300)] for r in rows], device=device)

    def run() -> tuple[torch.Tensor, list[torch.Tensor]]:
        model.zero_grad()
        logits = model(seqs, layout)
        (logits.float().square() * valid[..., None]).mean().backward()
        return logits.detach()[valid], [p.grad.clone() for p in model.parameters()]

    assert build_self_attention_mask(layout, 300, device, causal=True).block_mask is not None
    flex_logits, flex_grads = run()
    monkeypatch.setattr(
        attention_mask_module, "flex_attention_unsupported_reason", lambda _: "dense"
    )
    assert build_self_attention_mask(layout, 300, device, causal=True).block_mask is None
    dense_logits, dense_grads = run()
    torch.testing.assert_close(flex_logits, dense_logits, rtol=1e-4, atol=1e-4)
    for a, b in zip(flex_grads, dense_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-4)
