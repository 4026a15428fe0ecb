"""Capturing and restoring every RNG as tensors and plain values (``weights_only``-safe)."""

from __future__ import annotations

import random
from collections.abc import Mapping

import numpy as np
import torch


def capture_rng_state() -> dict[str, object]:
    """Python, NumPy, torch CPU and (when present) CUDA generator states."""
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state: dict[str, object] = {
        "python": random.getstate(),
        "numpy": {
            "kind": str(kind),
            "keys": torch.from_numpy(np.asarray(keys).copy()),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: Mapping[str, object]) -> None:
    """Undo :func:`capture_rng_state`."""
    py = state["python"]
    assert isinstance(py, tuple | list)
    random.setstate((py[0], tuple(py[1]), py[2]))
    np_state = state["numpy"]
    assert isinstance(np_state, Mapping)
    keys = np_state["keys"]
    assert isinstance(keys, torch.Tensor)
    np.random.set_state(
        (
            str(np_state["kind"]),
            keys.numpy(),
            int(np_state["pos"]),
            int(np_state["has_gauss"]),
            float(np_state["cached"]),
        )
    )
    cpu = state["torch"]
    assert isinstance(cpu, torch.Tensor)
    torch.set_rng_state(cpu)
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available():
        assert isinstance(cuda, list)
        torch.cuda.set_rng_state_all(cuda)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
