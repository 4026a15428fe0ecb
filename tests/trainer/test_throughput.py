"""Model FLOPs per token (checked against a hand count) and the MFU training metrics."""

from __future__ import annotations

import pytest
import torch

from seqkit.metrics import WALL_CLOCK_METRICS
from seqkit.models.flops import (
    count_linear_weights,
    llama_flops_per_token,
    llama_matmul_params,
    model_flops_per_token,
)
from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.trainer import TrainerConfig
from seqkit.trainer.errors import TrainerConfigError
from seqkit.trainer.throughput import device_peak_flops, throughput_metrics
from tests.trainer.test_data_wait import _train_rows

SMALL = LlamaConfig(
    vocab_size=100,
    model_dim=16,
    num_layers=2,
    num_attn_heads=4,
    num_key_value_heads=2,
    ffn_inner_dim=40,
    max_seq_len=8,
)


def test_llama_flops_match_a_hand_count() -> None:
    # Per layer: q 16x16=256, k and v 16x8=128 each (2 kv heads of dim 4), output 16x16=256
    # -> 768; SwiGLU 3 x 16x40 = 1920. Two layers: 5376; vocab projection 16x100 = 1600.
    assert llama_matmul_params(SMALL) == 2 * (256 + 128 + 128 + 256 + 3 * 640) + 1600 == 6976
    # 6 N = 41856; attention 12 * L(2) * A(16) * S(8) = 3072.
    assert llama_flops_per_token(SMALL) == 41856 + 3072
    assert llama_flops_per_token(SMALL, 4) == 41856 + 1536
    assert llama_flops_per_token(SMALL, causal_half=True) == 41856 + 1536


@pytest.mark.parametrize("tied", [False, True])
def test_the_count_is_the_models_linear_weights(tied: bool) -> None:
    config = LlamaConfig(**{**SMALL.__dict__, "tie_embeddings": tied})
    model = create_llama_model(config, device=torch.device("meta"))
    assert count_linear_weights(model) == llama_matmul_params(config)
    assert model_flops_per_token(model) == llama_flops_per_token(config)
    assert model_flops_per_token(torch.nn.Linear(2, 2)) is None


def test_throughput_metrics() -> None:
    values = throughput_metrics(
        tokens_per_s=1000.0, flops_per_token=2e9, peak_flops_per_s=1e12, num_devices=2
    )
    assert values == pytest.approx({"model_tflops_per_s": 2.0, "mfu": 1.0})
    no_peak = throughput_metrics(
        tokens_per_s=1.0, flops_per_token=1e12, peak_flops_per_s=None, num_devices=1
    )
    assert no_peak == {"model_tflops_per_s": 1.0}
    none = throughput_metrics(
        tokens_per_s=1.0, flops_per_token=None, peak_flops_per_s=1.0, num_devices=1
    )
    assert none == {}
    assert device_peak_flops(torch.device("cpu")) is None


def test_trainer_publishes_mfu() -> None:
    rows = _train_rows(None, model_flops_per_token=1e6, peak_flops_per_s=1e9)
    assert rows
    for row in rows:
        assert row["model_tflops_per_s"] == pytest.approx(row["targets_per_s"] * 1e6 / 1e12)
        assert row["mfu"] == pytest.approx(row["targets_per_s"] * 1e6 / 1e9)
        assert "peak_memory_gib" not in row  # CPU
    assert {"mfu", "model_tflops_per_s"} <= WALL_CLOCK_METRICS


def test_no_flops_no_mfu() -> None:
    assert all("mfu" not in row for row in _train_rows(None))


def test_bad_flops_rejected() -> None:
    with pytest.raises(TrainerConfigError):
        TrainerConfig(max_num_steps=1, model_flops_per_token=0.0)
