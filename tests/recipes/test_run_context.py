"""Devices named in train.device: a clear error for one this machine does not have."""

from __future__ import annotations

import pytest
import torch

from seqkit.recipes.errors import RecipeError
from seqkit.recipes.run_context import _device


def test_unknown_and_missing_devices_are_named() -> None:
    assert _device(None) is None
    assert _device("cpu") == torch.device("cpu")
    with pytest.raises(RecipeError, match="'tpu' is not a device torch knows"):
        _device("tpu")
    with pytest.raises(RecipeError, match="not supported"):
        _device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(RecipeError, match="sees no CUDA device"):
            _device("cuda")
