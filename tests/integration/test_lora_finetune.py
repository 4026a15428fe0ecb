"""``seqkit lm finetune`` with LoRA: adapters only in the optimizer, bitwise resume, and a
merged model that loads as a plain one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.checkpoint.files import load_tensors
from seqkit.cli.main import main
from seqkit.models import ModelHub
from seqkit.nn.lora import has_lora
from seqkit.runtime import DependencyContainer

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "base"
    code = main(
        [
            "lm", "train", str(out), "--preset", "tiny",
            "--config", f"data.train_files=[{corpus}]",
            "--config", "train.max_steps=10", "--config", "train.progress_bar=false",
        ]
    )  # fmt: skip
    assert code == 0
    return out


def _finetune(out: Path, base: Path, data: Path, *extra: str) -> int:
    return main(
        [
            "lm", "finetune", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={base}",
            "--config", f"data.train_files=[{data}]",
            "--config", "train.progress_bar=false",
            "--config", "train.checkpoint_every_n_steps=4",
            "--config", "train.validate_every_n_steps=4",
            "--config", "lora.rank=4",
            "--config", "lora.dropout=0.1",  # dropout draws from the RNG: resume restores it
            "--config", "optim.optimizer.lr=0.01",
            *extra,
        ]
    )  # fmt: skip


def _checkpoint(out: Path, step: int) -> tuple[dict[str, torch.Tensor], dict[str, object]]:
    directory = out / "checkpoints" / f"step_{step}"
    return load_tensors(directory / "model.safetensors"), torch.load(
        directory / "optimizer.pt", weights_only=False
    )


@pytest.fixture(scope="module")
def straight(base_run: Path, instructions: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lora") / "straight"
    assert _finetune(out, base_run, instructions, "--config", "train.max_steps=12") == 0
    return out


def test_lora_trains_adapters_only_and_saves_a_merged_plain_model(
    straight: Path, base_run: Path, container: DependencyContainer
) -> None:
    hub = container.resolve(ModelHub)
    base = hub.load(base_run / "card.yaml")
    tuned = hub.load(straight / "card.yaml")
    assert not has_lora(tuned)
    assert list(tuned.state_dict()) == list(base.state_dict())
    changed = {k for k, v in tuned.state_dict().items() if not torch.equal(v, base.state_dict()[k])}
    # Only the adapted projections moved (embeddings, norms, output projection did not).
    assert changed
    assert all(k.endswith("_proj.weight") and "final_proj" not in k for k in changed)
    model_state, optimizer = _checkpoint(straight, 12)
    assert any(k.endswith("lora_a") for k in model_state)  # the full state, adapters included
    names = optimizer["param_groups"][0]["params"]  # type: ignore[index]
    assert names
    assert all(str(n).endswith(("lora_a", "lora_b")) for n in names)
    assert "lora:" in (straight / "card.yaml").read_text()


def test_lora_resume_is_bitwise(
    straight: Path, base_run: Path, instructions: Path, tmp_path: Path
) -> None:
    out = tmp_path / "resumed"
    assert _finetune(out, base_run, instructions, "--config", "train.max_steps=6") == 0
    assert _finetune(out, base_run, instructions, "--config", "train.max_steps=12") == 0
    for step in (12,):
        ours, our_opt = _checkpoint(out, step)
        theirs, their_opt = _checkpoint(straight, step)
        assert ours.keys() == theirs.keys()
        for key in ours:
            assert torch.equal(ours[key], theirs[key]), key
        for name, state in their_opt["state"].items():  # type: ignore[attr-defined]
            for k, v in state.items():
                assert torch.equal(our_opt["state"][name][k], v), (name, k)  # type: ignore[index]
    final = load_tensors(out / "model" / "model.safetensors")
    expected = load_tensors(straight / "model" / "model.safetensors")
    assert final.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(final[key], value), key


def test_lora_config_cannot_change_on_resume(
    straight: Path, base_run: Path, instructions: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _finetune(
        straight,
        base_run,
        instructions,
        "--config",
        "lora.rank=8",
        "--config",
        "train.max_steps=14",
    )
    assert code != 0
    assert "lora.rank" in capsys.readouterr().err
