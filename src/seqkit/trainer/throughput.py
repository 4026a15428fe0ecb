"""Throughput figures of the training metrics: model FLOPs utilization, peak memory."""

from __future__ import annotations

from typing import Final

import torch

DENSE_BF16_PEAK_FLOPS: Final = (
    ("H200", 989.4e12),
    ("H100 PCIe", 756.0e12),
    ("H100", 989.4e12),  # SXM
    ("A100", 312.0e12),
    ("L40S", 362.0e12),
    ("A10G", 70.0e12),
    ("L4", 121.0e12),
)
"""Dense (no sparsity) bf16/fp16 tensor-core peaks by CUDA device name, first match wins."""


def device_peak_flops(device: torch.device) -> float | None:
    """The dense bf16 peak FLOP/s of a known CUDA device; ``None`` elsewhere (give
    ``TrainerConfig.peak_flops_per_s`` then)."""
    if device.type != "cuda" or not torch.cuda.is_available():
        return None
    name = torch.cuda.get_device_name(device)
    for key, peak in DENSE_BF16_PEAK_FLOPS:
        if key in name:
            return peak
    return None


def throughput_metrics(
    *,
    tokens_per_s: float,
    flops_per_token: float | None,
    peak_flops_per_s: float | None,
    num_devices: int,
) -> dict[str, float]:
    """``model_tflops_per_s`` (all devices) and ``mfu`` (its share of ``num_devices`` x the
    peak), as far as the inputs are known."""
    values: dict[str, float] = {}
    if flops_per_token is None:
        return values
    achieved = flops_per_token * tokens_per_s
    values["model_tflops_per_s"] = achieved / 1e12
    if peak_flops_per_s:
        values["mfu"] = achieved / (peak_flops_per_s * num_devices)
    return values
