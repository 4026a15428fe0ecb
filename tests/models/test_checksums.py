"""Model directories carry sha256 checksums of their weights, verified on load."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import torch

from seqkit.cli.main import main
from seqkit.models import (
    CheckpointError,
    ModelFamilies,
    ModelHub,
    export_hf,
    save_model,
    save_safetensors,
)
from seqkit.models.weights import CHECKSUMS_NAME, read_checksums


def _flip_byte_at_end(path: Path) -> None:
    """Flip one byte in the tensor data (the end of the file), keeping size and header."""
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-3] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as bit rot would: no new mtime


def test_save_model_records_sha256_and_load_verifies_it(
    tmp_path: Path, families: ModelFamilies
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    out = save_model(model, tmp_path / "m")
    checksums = read_checksums(out)
    assert checksums is not None
    assert set(checksums) == {"model.safetensors"}
    assert len(checksums["model.safetensors"]) == 64
    # The file is in `sha256sum -c` format.
    line = (out / CHECKSUMS_NAME).read_text()
    assert line == f"{checksums['model.safetensors']}  model.safetensors\n"
    ModelHub(families).load(out)  # verifies

    _flip_byte_at_end(out / "model.safetensors")
    with pytest.raises(CheckpointError, match="corrupt") as info:
        ModelHub(families).load(out)
    assert "model.safetensors" in str(info.value)
    assert "sha256" in str(info.value)


def test_export_hf_records_sha256_and_load_verifies_it(
    tmp_path: Path, families: ModelFamilies
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    out = export_hf(model, tmp_path / "hf", families)
    checksums = read_checksums(out)
    assert checksums is not None
    assert set(checksums) == {"model.safetensors"}
    ModelHub(families).load(out)
    _flip_byte_at_end(out / "model.safetensors")
    with pytest.raises(CheckpointError, match=r"model\.safetensors.*corrupt"):
        ModelHub(families).load(out)


def test_weights_file_loaded_directly_is_verified_too(
    tmp_path: Path, families: ModelFamilies
) -> None:
    out = save_model(families.get("llama").create_model("tiny"), tmp_path / "m")
    _flip_byte_at_end(out / "model.safetensors")
    with pytest.raises(CheckpointError, match="corrupt"):
        ModelHub(families).load(out / "model.safetensors")


def test_old_directory_without_checksums_still_loads(
    tmp_path: Path, families: ModelFamilies
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    out = save_model(model, tmp_path / "m")
    (out / CHECKSUMS_NAME).unlink()
    reloaded = ModelHub(families).load(out)
    seqs = torch.randint(0, 512, (1, 4))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(seqs), model(seqs))


def test_resaving_over_a_model_refreshes_its_checksum(
    tmp_path: Path, families: ModelFamilies
) -> None:
    family = families.get("llama")
    out = save_model(family.create_model("tiny"), tmp_path / "m")
    first = read_checksums(out)
    torch.manual_seed(1)
    save_model(family.create_model("tiny"), out)
    assert read_checksums(out) != first
    ModelHub(families).load(out)


def test_a_weights_file_not_in_the_checksums_loads_unverified(
    tmp_path: Path, families: ModelFamilies, caplog: pytest.LogCaptureFixture
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    out = save_model(model, tmp_path / "m")
    torch.save(model.state_dict(), out / "mine.pt")  # put beside model.yaml by hand
    with caplog.at_level(logging.WARNING):
        ModelHub(families).load(out / "mine.pt")
    assert "not listed" in caplog.text


def test_rewriting_weights_with_save_safetensors_keeps_the_record_true(
    tmp_path: Path, families: ModelFamilies
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    out = save_model(model, tmp_path / "m")
    before = read_checksums(out)
    state = {k: v * 2 for k, v in model.state_dict().items()}
    digest = save_safetensors(state.items(), out / "model.safetensors")
    assert read_checksums(out) == {"model.safetensors": digest} != before
    ModelHub(families).load(out)


# ----------------------------------------------------------------- models export CLI
def test_export_onto_an_existing_file_is_a_clear_error(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model(families.get("llama").create_model("tiny"), tmp_path / "src")
    target = tmp_path / "out.txt"
    target.write_text("keep me")
    for extra in ([], ["--overwrite"]):
        assert main(["models", "export", str(tmp_path / "src"), str(target), *extra]) == 2
        err = capsys.readouterr().err
        assert str(target) in err
        assert "is a file" in err
    assert target.read_text() == "keep me"


@pytest.mark.parametrize("fmt", ["hf", "seqkit"])
def test_export_onto_an_existing_directory_needs_overwrite(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    model = families.get("llama").create_model("tiny").eval()
    save_model(model, tmp_path / "src")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous export")
    args = ["models", "export", str(tmp_path / "src"), str(out), "--format", fmt]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert str(out) in err
    assert "--overwrite" in err
    assert (out / "old.txt").read_text() == "previous export"  # untouched

    assert main([*args, "--overwrite"]) == 0
    assert not (out / "old.txt").exists()  # replaced as a whole, not merged
    assert read_checksums(out) is not None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src"]  # no leftovers
    reloaded = ModelHub(families).load(out)
    seqs = torch.randint(0, 512, (1, 4))
    with torch.no_grad():
        torch.testing.assert_close(reloaded(seqs), model(seqs))


def test_failed_overwrite_leaves_the_old_export(
    tmp_path: Path, families: ModelFamilies, capsys: pytest.CaptureFixture[str]
) -> None:
    save_model(families.get("transformer").create_model("small"), tmp_path / "mt")
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("previous export")
    # A pre-norm transformer has no HF form: the export fails after the target was accepted.
    assert main(["models", "export", str(tmp_path / "mt"), str(out), "--overwrite"]) == 2
    assert "has no exact Hugging Face form" in capsys.readouterr().err
    assert (out / "old.txt").read_text() == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mt", "out"]
