"""``seqkit lm preference-finetune`` end to end on a tiny model: DPO (full and LoRA),
SimPO and ORPO run, record their metrics, save plain models and resume bitwise."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
import torch

from seqkit.checkpoint.files import load_tensors
from seqkit.cli.main import main
from seqkit.models import ModelHub
from seqkit.nn.lora import has_lora
from seqkit.runtime import DependencyContainer

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
BIBLE = REPO / "datasets" / "bible"


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


@pytest.fixture(scope="module")
def pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Finish a verse: chosen = its real second half, rejected = another verse's."""
    lines = (BIBLE / "web.en").read_text(encoding="utf-8").splitlines()[600:700]
    halves = []
    for line in lines:
        words = line.split()
        half = len(words) // 2
        halves.append((" ".join(words[:half]), " ".join(words[half:])))
    rng = random.Random(0)
    records = []
    for i, (head, tail) in enumerate(halves):
        other = halves[(i + 1 + rng.randrange(len(halves) - 1)) % len(halves)][1]
        records.append({"prompt": f"Finish: {head}", "chosen": tail, "rejected": other})
    path = tmp_path_factory.mktemp("pref") / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _run(out: Path, base: Path, data: Path, *extra: str) -> int:
    return main(
        [
            "lm", "preference-finetune", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={base}",
            "--config", f"data.train_files=[{data}]",
            "--config", "train.progress_bar=false",
            *extra,
        ]
    )  # fmt: skip


def _metrics(out: Path, section: str) -> list[dict[str, float]]:
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["section"] == section]


@pytest.mark.parametrize("lora", [False, True], ids=["full", "lora"])
def test_dpo_runs_records_metrics_and_starts_at_log2(
    lora: bool,
    base_run: Path,
    pairs: Path,
    tmp_path: Path,
    container: DependencyContainer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "dpo"
    extra = ["--config", "lora.rank=4", "--config", "optim.optimizer.lr=0.01"] if lora else []
    assert _run(out, base_run, pairs, "--config", "preference.loss=dpo", *extra) == 0
    printed = capsys.readouterr().out
    assert "DPO reference" in printed
    train = _metrics(out, "train")
    assert [r["step"] for r in train] == list(range(1, 11))
    for key in ("loss", "reward_chosen", "reward_rejected", "reward_margin", "reward_accuracy"):
        assert all(math.isfinite(r[key]) for r in train), key
    # Step 1: the policy is the reference, so every pair's loss is log 2 and no reward.
    assert train[0]["loss"] == pytest.approx(math.log(2), abs=1e-5)
    assert train[0]["reward_margin"] == pytest.approx(0.0, abs=1e-5)
    # Training separates the responses (on average over the last steps: batches are noisy).
    assert sum(r["reward_margin"] for r in train[5:]) > 0
    assert sum(r["loss"] for r in train[5:]) / 5 < math.log(2)
    valid = _metrics(out, "valid")
    assert valid
    assert {"loss", "reward_margin", "reward_accuracy"} <= set(valid[-1])
    assert 0.0 <= valid[-1]["reward_accuracy"] <= 1.0
    model = container.resolve(ModelHub).load(out / "card.yaml")
    assert not has_lora(model)
    assert "preference" in (out / "card.yaml").read_text()


@pytest.mark.parametrize("loss", ["simpo", "orpo"])
def test_reference_free_losses_run(
    loss: str, base_run: Path, pairs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / loss
    extra = ["--config", "preference.beta=2.0"] if loss == "simpo" else []
    assert _run(out, base_run, pairs, "--config", f"preference.loss={loss}", *extra) == 0
    assert "DPO reference" not in capsys.readouterr().out
    train = _metrics(out, "train")
    assert len(train) == 10
    assert all(math.isfinite(r["loss"]) for r in train)
    first, last = train[:5], train[5:]
    assert sum(r["reward_margin"] for r in last) > sum(r["reward_margin"] for r in first)
    if loss == "orpo":
        assert {"nll", "or_loss", "log_odds_ratio"} <= set(train[-1])


def test_lora_dpo_resume_is_bitwise(base_run: Path, pairs: Path, tmp_path: Path) -> None:
    common = ["--config", "lora.rank=4", "--config", "lora.dropout=0.1",
              "--config", "optim.optimizer.lr=0.01"]  # fmt: skip
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _run(straight, base_run, pairs, *common) == 0
    assert _run(resumed, base_run, pairs, *common, "--config", "train.max_steps=5") == 0
    assert _run(resumed, base_run, pairs, *common, "--config", "train.max_steps=10") == 0
    for directory in ("checkpoints/step_10", "model"):
        ours = load_tensors(resumed / directory / "model.safetensors")
        theirs = load_tensors(straight / directory / "model.safetensors")
        assert ours.keys() == theirs.keys()
        for key, value in theirs.items():
            assert torch.equal(ours[key], value), (directory, key)
    a = {(r["step"], r["loss"]) for r in _metrics(straight, "train")}
    b = {(r["step"], r["loss"]) for r in _metrics(resumed, "train")}
    assert a == b
