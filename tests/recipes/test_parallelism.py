"""`train.activation_checkpointing` and `train.compile` reach the model's layers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.gang import setup_gangs
from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.nn import transformer_layers
from seqkit.recipes import parallelism
from seqkit.recipes.run_context import RunContext
from seqkit.recipes.sections import TrainSection


def _ctx(tmp_path: Path) -> RunContext:
    gangs = setup_gangs(device=torch.device("cpu"), env={})
    return RunContext(output_dir=tmp_path, gangs=gangs)


def _model() -> torch.nn.Module:
    config = LlamaConfig(
        vocab_size=32,
        model_dim=16,
        num_layers=4,
        num_attn_heads=2,
        num_key_value_heads=2,
        ffn_inner_dim=32,
    )
    return create_llama_model(config)


def test_checkpointing_every_second_layer(tmp_path: Path) -> None:
    model = _model()
    wrapped = parallelism.parallelize(
        model, _ctx(tmp_path), data_parallel="ddp", activation_checkpointing=2
    )
    assert wrapped is model  # one process: no wrapper
    flags = [layer.checkpoint_activations for layer in transformer_layers(model)]
    assert flags == [False, True, False, True]
    assert all(layer.compiled_forward is None for layer in transformer_layers(model))


def test_compile_compiles_every_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallelism, "compile_unsupported_reason", lambda device: None)
    model = _model()
    parallelism.parallelize(model, _ctx(tmp_path), data_parallel="ddp", compile=True)
    assert all(layer.compiled_forward is not None for layer in transformer_layers(model))


def test_compile_falls_back_with_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(
        parallelism, "compile_unsupported_reason", lambda device: "no C++ compiler found"
    )
    model = _model()
    parallelism.parallelize(model, _ctx(tmp_path), data_parallel="ddp", compile=True)
    assert all(layer.compiled_forward is None for layer in transformer_layers(model))
    out = capsys.readouterr().out.strip().splitlines()
    assert out == ["train.compile: running eager instead (no C++ compiler found)."]


@pytest.mark.parametrize("value", ["none", "every", 1, 3])
def test_train_section_accepts(value: object) -> None:
    TrainSection(activation_checkpointing=value)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [0, -2, "all", True])
def test_train_section_rejects(value: object) -> None:
    with pytest.raises(ValueError, match="activation_checkpointing"):
        TrainSection(activation_checkpointing=value)  # type: ignore[arg-type]
