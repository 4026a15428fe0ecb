"""Loading on the CPU in the checkpoint's dtype keeps the weights in the file's memory map."""

from __future__ import annotations

import gc
import json
import struct
from pathlib import Path

import torch

from seqkit.models import ModelFamilies, ModelHub, save_model
from seqkit.models.weights import sha256_file


def _offsets(path: Path) -> dict[str, int]:
    with path.open("rb") as fp:
        (size,) = struct.unpack("<Q", fp.read(8))
        header = json.loads(fp.read(size))
    return {k: 8 + size + v["data_offsets"][0] for k, v in header.items() if k != "__metadata__"}


def test_parameters_are_views_of_the_file(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("tiny").eval()
    save_model(model, tmp_path / "m")
    file = tmp_path / "m" / "model.safetensors"
    digest = sha256_file(file)
    loaded = ModelHub(families).load(tmp_path / "m")
    gc.collect()  # the weight file object is gone; its map must live on with the views
    params = dict(loaded.named_parameters())
    offsets = _offsets(file)
    first, second = "embed.weight", "decoder.layers.1.ffn.output_proj.weight"
    # Two parameters lie as far apart in memory as in the file: both point into one map.
    assert params[second].data_ptr() - params[first].data_ptr() == (
        offsets[second] - offsets[first]
    )
    seqs = torch.randint(0, 512, (2, 5))
    with torch.no_grad():
        torch.testing.assert_close(loaded(seqs), model(seqs))
        # Writes are private (copy-on-write): the file does not change.
        for param in loaded.parameters():
            param.add_(1.0)
    assert sha256_file(file) == digest
    again = ModelHub(families).load(tmp_path / "m")
    with torch.no_grad():
        torch.testing.assert_close(again(seqs), model(seqs))


def test_ties_survive_and_other_dtypes_are_copied(tmp_path: Path, families: ModelFamilies) -> None:
    model = families.get("llama").create_model("qwen2_tiny")
    model.config.tie_embeddings = True
    model.final_proj.weight = model.embed.weight
    save_model(model, tmp_path / "m")
    loaded = ModelHub(families).load(tmp_path / "m")
    assert loaded.final_proj.weight is loaded.embed.weight
    half = ModelHub(families).load(tmp_path / "m", dtype=torch.bfloat16)
    assert half.embed.weight.dtype == torch.bfloat16
    assert half.final_proj.weight is half.embed.weight
