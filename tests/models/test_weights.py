from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from seqkit.models import CheckpointError, save_safetensors
from seqkit.models.weights import SafetensorsFile, open_weight_file


def test_writer_is_readable_by_the_safetensors_library(tmp_path: Path) -> None:
    tensors = {
        "a": torch.arange(3, dtype=torch.bfloat16),  # 6 bytes: misaligns what follows
        "b": torch.arange(5, dtype=torch.float32),
        "c": torch.randn(4, 3, 2),
        "scalar": torch.tensor(7, dtype=torch.int64),
    }
    save_safetensors(tensors.items(), tmp_path / "w.safetensors")
    theirs = load_file(tmp_path / "w.safetensors")
    ours = SafetensorsFile(tmp_path / "w.safetensors")
    for key, value in tensors.items():
        torch.testing.assert_close(theirs[key], value)
        torch.testing.assert_close(ours.read(key), value)
        out = torch.empty_like(value)
        ours.copy_to(key, out)
        torch.testing.assert_close(out, value)
    ours.close()


def test_chunked_copy_of_a_large_tensor(tmp_path: Path) -> None:
    big = torch.randn(3000, 1000)  # 12 MB: copied in 8 MiB slices
    save_file({"big": big}, tmp_path / "big.safetensors")
    weights = open_weight_file(tmp_path / "big.safetensors")
    out = torch.empty(3000, 1000, dtype=torch.bfloat16)
    weights.copy_to("big", out)
    torch.testing.assert_close(out, big.bfloat16())
    weights.close()


def test_corrupt_and_unknown_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(b"\xff" * 16)
    with pytest.raises(CheckpointError, match="header length is corrupt"):
        SafetensorsFile(path)
    save_file({"x": torch.ones(100)}, tmp_path / "t.safetensors")
    truncated = (tmp_path / "t.safetensors").read_bytes()[:-40]
    path.write_bytes(truncated)
    with pytest.raises(CheckpointError, match="truncated"):
        SafetensorsFile(path)
    with pytest.raises(CheckpointError, match="unknown weights format"):
        open_weight_file(tmp_path / "w.npz")
