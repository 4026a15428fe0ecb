"""Activation checkpointing and regional compile leave results and gradients unchanged."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import Tensor, nn

from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.models.transformer import TransformerConfig, create_transformer_model
from seqkit.nn import (
    BatchLayout,
    IncrementalStateBag,
    apply_activation_checkpointing,
    compile_layers,
    compile_unsupported_reason,
    transformer_layers,
)


def _llama(dropout_p: float = 0.0) -> nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        model_dim=32,
        num_layers=4,
        num_attn_heads=4,
        num_key_value_heads=2,
        ffn_inner_dim=64,
        max_seq_len=32,
        dropout_p=dropout_p,
    )
    return create_llama_model(config)


def _transformer() -> nn.Module:
    torch.manual_seed(0)
    config = TransformerConfig(
        model_dim=32,
        num_encoder_layers=2,
        num_decoder_layers=3,
        num_attn_heads=4,
        ffn_inner_dim=64,
        vocab_size=50,
        max_seq_len=32,
        dropout_p=0.1,
    )
    return create_transformer_model(config)


def _llama_step(model: nn.Module, seed: int = 1) -> tuple[Tensor, dict[str, Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    seqs = torch.randint(1, 64, (3, 12))
    layout = BatchLayout([12, 9, 5])
    torch.manual_seed(seed + 1)  # dropout masks
    logits = model(seqs, layout)
    loss = nn.functional.cross_entropy(logits.flatten(0, 1).float(), seqs.flatten())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _transformer_step(model: nn.Module) -> tuple[Tensor, dict[str, Tensor]]:
    model.zero_grad(set_to_none=True)
    torch.manual_seed(3)
    src, tgt = torch.randint(1, 50, (2, 9)), torch.randint(1, 50, (2, 7))
    torch.manual_seed(4)
    logits = model(src, BatchLayout([9, 6]), tgt, BatchLayout([7, 7]))
    loss = nn.functional.cross_entropy(logits.flatten(0, 1), tgt.flatten())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


def _assert_same(
    a: tuple[Tensor, dict[str, Tensor]], b: tuple[Tensor, dict[str, Tensor]], atol: float
) -> None:
    torch.testing.assert_close(a[0], b[0], atol=atol, rtol=1e-5)
    assert a[1].keys() == b[1].keys()
    for name in a[1]:
        torch.testing.assert_close(a[1][name], b[1][name], atol=atol, rtol=1e-4, msg=name)


@pytest.mark.parametrize("every", ["every", 1, 2, 3])
def test_checkpointed_llama_has_the_same_loss_and_gradients(every: str | int) -> None:
    model = _llama(dropout_p=0.1)  # dropout: the recomputation must replay the same masks
    model.train()
    reference = _llama_step(model)
    count = apply_activation_checkpointing(model, every)  # type: ignore[arg-type]
    assert count == {"every": 4, 1: 4, 2: 2, 3: 1}[every]
    _assert_same(reference, _llama_step(model), atol=1e-6)


def test_checkpointed_transformer_has_the_same_loss_and_gradients() -> None:
    model = _transformer()
    model.train()
    reference = _transformer_step(model)
    assert apply_activation_checkpointing(model, "every") == 5
    _assert_same(reference, _transformer_step(model), atol=1e-6)


def test_every_kth_layer_of_each_stack() -> None:
    model = _transformer()
    apply_activation_checkpointing(model, 2)
    flags = [layer.checkpoint_activations for layer in transformer_layers(model)]
    assert flags == [False, True, False, True, False]  # encoder 0-1, decoder 0-2
    apply_activation_checkpointing(model, "none")
    assert not any(layer.checkpoint_activations for layer in transformer_layers(model))


def test_checkpointing_keeps_the_state_dict_and_decoding() -> None:
    model = _llama().eval()
    keys = list(model.state_dict())
    seqs = torch.randint(1, 64, (2, 5))
    with torch.no_grad():
        bag = IncrementalStateBag(8)
        before = model(seqs, state_bag=bag)
    apply_activation_checkpointing(model, "every")
    assert list(model.state_dict()) == keys
    with torch.no_grad():
        bag = IncrementalStateBag(8)
        torch.testing.assert_close(model(seqs, state_bag=bag), before)


@pytest.mark.parametrize("bad", [0, -1, "some", True])
def test_bad_interval_is_rejected(bad: object) -> None:
    with pytest.raises(ValueError, match="activation checkpointing"):
        apply_activation_checkpointing(_llama(), bad)  # type: ignore[arg-type]


def test_compile_support_is_reported() -> None:
    reason = compile_unsupported_reason(torch.device("cpu"))
    assert reason is None or "compiler" in reason or "Python" in reason


@pytest.mark.slow
@pytest.mark.parametrize("checkpointing", [False, True], ids=["eager-ac-off", "ac-on"])
def test_compiled_llama_equals_eager(checkpointing: bool) -> None:
    if (reason := compile_unsupported_reason(torch.device("cpu"))) is not None:
        pytest.skip(reason)
    torch._dynamo.reset()
    model = _llama()
    model.train()
    reference = _llama_step(model)
    compiled = copy.deepcopy(model)
    if checkpointing:
        apply_activation_checkpointing(compiled, "every")
    assert compile_layers(compiled) == 4
    assert list(compiled.state_dict()) == list(model.state_dict())
    for _ in range(2):  # the second step runs the cached graph
        _assert_same(reference, _llama_step(compiled), atol=1e-5)
    # A deep copy runs its own weights through the shared compiled function.
    copied = copy.deepcopy(compiled)
    with torch.no_grad():
        for p in copied.parameters():
            p.mul_(0.5)
    assert not torch.equal(_llama_step(copied)[0], reference[0])
    _assert_same(reference, _llama_step(compiled), atol=1e-5)
    # Decoding stays eager and still matches.
    compiled.eval()
    seqs = torch.randint(1, 64, (2, 5))
    with torch.no_grad():
        expected = model.eval()(seqs, state_bag=IncrementalStateBag(8))
        torch.testing.assert_close(compiled(seqs, state_bag=IncrementalStateBag(8)), expected)
