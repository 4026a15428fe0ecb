"""GPU checks of the training speed features (``pytest -m gpu``; run by scripts/gpu_check.sh).

Without CUDA these skip, unless ``SEQKIT_GPU_TESTS_ON_CPU=1`` (``gpu_check.sh --dry-run``)
runs them on the CPU with the CUDA-only parts (flash kernel, NCCL) left out, so the test
code itself cannot rot between GPU runs.
"""

from __future__ import annotations

import contextlib
import copy
import os
import socket
from collections.abc import Iterator

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.gang import FakeGang, FsdpConfig, ProcessGroupGang, to_fsdp
from seqkit.models.flops import llama_flops_per_token
from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.nn import (
    AttentionMask,
    TransformerDecoderLayer,
    apply_activation_checkpointing,
    build_self_attention_mask,
    compile_layers,
    compile_unsupported_reason,
)
from seqkit.optim import AdamWConfig, create_optimizer
from seqkit.trainer import Trainer, TrainerConfig, TrainUnit

pytestmark = pytest.mark.gpu

ON_CPU = os.environ.get("SEQKIT_GPU_TESTS_ON_CPU") == "1"


@pytest.fixture
def device() -> torch.device:
    if torch.cuda.is_available():
        return torch.device("cuda", 0)
    if ON_CPU:
        return torch.device("cpu")
    pytest.skip("needs a CUDA device (SEQKIT_GPU_TESTS_ON_CPU=1 runs it on the CPU)")


def _config() -> LlamaConfig:
    return LlamaConfig(
        vocab_size=256,
        model_dim=128,
        num_layers=3,
        num_attn_heads=8,
        num_key_value_heads=2,
        ffn_inner_dim=256,
        max_seq_len=64,
        tie_embeddings=False,
    )


def _model(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return create_llama_model(_config(), device=device).train()


def _tokens(device: torch.device, batch: int = 4, seq: int = 33) -> Tensor:
    g = torch.Generator().manual_seed(1)
    return torch.randint(0, 256, (batch, seq), generator=g).to(device)


def _autocast(
    device: torch.device, dtype: torch.dtype
) -> contextlib.AbstractContextManager[object]:
    if dtype == torch.float32:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def _loss_and_grads(
    model: nn.Module, tokens: Tensor, dtype: torch.dtype = torch.float32
) -> tuple[Tensor, dict[str, Tensor]]:
    model.zero_grad(set_to_none=True)
    with _autocast(tokens.device, dtype):
        logits = model(tokens[:, :-1])
    loss = F.cross_entropy(logits.flatten(0, 1).float(), tokens[:, 1:].flatten())
    loss.backward()
    grads = {n: _full(p.grad).float() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach().float(), grads


def _full(t: Tensor) -> Tensor:
    full = getattr(t, "full_tensor", None)
    return full() if full is not None else t


def _max_rel_err(a: dict[str, Tensor], b: dict[str, Tensor]) -> float:
    assert a.keys() == b.keys()
    return max(float((a[k] - b[k]).norm() / (b[k].norm() + 1e-12)) for k in a)


class _LMUnit(TrainUnit[Tensor]):
    def __init__(self, model: nn.Module) -> None:
        self._model = model

    @property
    def model(self) -> nn.Module:
        return self._model

    def __call__(self, batch: Tensor) -> tuple[Tensor, int]:
        logits = self._model(batch[:, :-1])
        targets = batch[:, 1:]
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), reduction="sum")
        return loss, targets.numel()


class _Batches:
    def __init__(self, batches: list[Tensor]) -> None:
        self.batches, self.position = batches, 0

    def __iter__(self) -> Iterator[Tensor]:
        while self.position < len(self.batches):
            self.position += 1
            yield self.batches[self.position - 1]

    def reset(self) -> None:
        self.position = 0

    def state_dict(self) -> dict[str, object]:
        return {"position": self.position}

    def load_state_dict(self, state: dict[str, object]) -> None:
        self.position = int(str(state["position"]))


class _Collect:
    def __init__(self) -> None:
        self.rows: list[dict[str, float]] = []

    def record(self, section: str, step: int, values: dict[str, float]) -> None:
        if section == "train":
            self.rows.append(dict(values))

    def resume(self, step: int) -> None:
        pass

    def close(self) -> None:
        pass


def test_bf16_autocast_training_steps(device: torch.device) -> None:
    """The trainer in bf16 autocast with fused AdamW: loss falls, metrics carry MFU/memory."""
    model = _model(device)
    optimizer = create_optimizer(AdamWConfig(lr=3e-3), list(model.parameters()))
    if device.type == "cuda":
        assert optimizer.param_groups[0]["fused"]  # auto-fused on CUDA
    batch = _tokens(device, batch=8)
    recorder = _Collect()
    config = TrainerConfig(
        max_num_steps=20,
        dtype="bfloat16",
        max_grad_norm=1.0,
        publish_metrics_every_n_steps=5,
        progress_bar=False,
        handle_signals=False,
        model_flops_per_token=llama_flops_per_token(_config(), 32),
        peak_flops_per_s=None if device.type == "cuda" else 1e11,
    )
    gang = FakeGang(device=device)
    trainer = Trainer(
        config,
        _LMUnit(model),
        _Batches([batch] * 20),
        optimizer,
        gang=gang,
        recorders=[recorder],  # type: ignore[list-item]
    )
    summary = trainer.run()
    assert summary.step == 20
    losses = [row["loss"] for row in recorder.rows]
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < losses[0]
    last = recorder.rows[-1]
    assert last["model_tflops_per_s"] > 0
    if device.type == "cuda":
        assert last["peak_memory_gib"] > 0
        if "H100" in torch.cuda.get_device_name(device) or "H200" in torch.cuda.get_device_name(
            device
        ):
            assert 0 < last["mfu"] < 1


def test_activation_checkpointing_gradients_equal(device: torch.device) -> None:
    model = _model(device)
    tokens = _tokens(device)
    loss, grads = _loss_and_grads(model, tokens)
    apply_activation_checkpointing(model, "every")
    ac_loss, ac_grads = _loss_and_grads(model, tokens)
    torch.testing.assert_close(ac_loss, loss, atol=1e-5, rtol=1e-5)
    assert _max_rel_err(ac_grads, grads) < 1e-4  # TF32/kernel choice may differ slightly


def test_compile_equals_eager_in_bf16(device: torch.device) -> None:
    if (reason := compile_unsupported_reason(device)) is not None:
        pytest.skip(reason)
    torch._dynamo.reset()
    model = _model(device)
    tokens = _tokens(device)
    loss, grads = _loss_and_grads(model, tokens, torch.bfloat16)
    compiled = copy.deepcopy(model)
    apply_activation_checkpointing(compiled, 2)
    compile_layers(compiled)
    for _ in range(2):
        c_loss, c_grads = _loss_and_grads(compiled, tokens, torch.bfloat16)
        assert abs(float(c_loss - loss)) < 2e-2 * float(loss)
        assert _max_rel_err(c_grads, grads) < 5e-2  # bf16: ~3 significant digits


def test_causal_sdpa_flash_equals_the_masked_path(device: torch.device) -> None:
    from torch.nn.attention import SDPBackend, sdpa_kernel

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 8, 128, 64, generator=g).to(device, dtype) for _ in range(3))
    mask = torch.ones(128, 128, dtype=torch.bool, device=device).tril()
    with sdpa_kernel(SDPBackend.MATH):
        want = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), attn_mask=mask)
    backend = SDPBackend.FLASH_ATTENTION if device.type == "cuda" else SDPBackend.MATH
    with sdpa_kernel(backend):
        got = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(got.float(), want, atol=2e-2, rtol=2e-2)
    # The model's own attention takes the is_causal path (no mask tensor) for full rows.
    model = _model(device).eval()
    layer = model.decoder.layers[0]
    assert isinstance(layer, TransformerDecoderLayer)
    x = torch.randn(2, 16, 128, device=device)
    causal = build_self_attention_mask(None, 16, device, causal=True)
    assert causal.is_causal
    assert causal.mask is None
    explicit = AttentionMask(mask=torch.ones(16, 16, dtype=torch.bool, device=device).tril())
    with torch.no_grad(), _autocast(device, dtype):
        a = layer.self_attn(x, causal)
        b = layer.self_attn(x, explicit)
    torch.testing.assert_close(a.float(), b.float(), atol=2e-2, rtol=2e-2)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_fsdp2_single_rank_bf16_with_checkpointing_and_compile(device: torch.device) -> None:
    """The recipe order (checkpoint, compile, then FSDP2 with a bf16 MixedPrecisionPolicy,
    one unit per layer) trains like bf16 autocast on the plain model."""
    reference = _model(device)
    tokens = _tokens(device)
    loss, grads = _loss_and_grads(reference, tokens, torch.bfloat16)
    gang = ProcessGroupGang.create_default(
        device=device, rank=0, size=1, init_method=f"tcp://127.0.0.1:{_free_port()}"
    )
    try:
        model = copy.deepcopy(reference)
        apply_activation_checkpointing(model, "every")
        if compile_unsupported_reason(device) is None and device.type == "cuda":
            torch._dynamo.reset()
            compile_layers(model)
        config = FsdpConfig(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
        model = to_fsdp(
            model, gang, config, wrap=lambda _, m: isinstance(m, TransformerDecoderLayer)
        )
        for _ in range(2):
            f_loss, f_grads = _loss_and_grads(model, tokens)
            assert abs(float(f_loss - loss)) < 2e-2 * float(loss)
            assert _max_rel_err(f_grads, grads) < 5e-2
    finally:
        gang.close()
