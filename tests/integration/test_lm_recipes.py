"""``seqkit lm train/finetune/generate/eval`` end to end on the tiny presets."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from seqkit.cli.main import main
from seqkit.models import ModelHub
from seqkit.recipes.loss_curve import read_loss_curve
from seqkit.runtime import DependencyContainer
from seqkit.text import TokenizerHub

pytestmark = pytest.mark.integration


def _train(out: Path, corpus: Path, *extra: str) -> int:
    return main(
        [
            "lm", "train", str(out), "--preset", "tiny",
            "--config", f"data.train_files=[{corpus}]",
            "--config", "train.progress_bar=false",
            "--config", "sample.prompts=[In the beginning]",
            *extra,
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def lm_run(tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    out = tmp_path_factory.mktemp("runs") / "lm"
    assert _train(out, corpus, "--config", "train.max_steps=30") == 0
    return out


def test_train_writes_everything_and_the_loss_falls(lm_run: Path) -> None:
    for name in ("config.yaml", "card.yaml", "metrics.jsonl", "loss.png", "tokenizer/spm.model",
                 "model/model.safetensors", "model/model.yaml", "data/ready.json",
                 "data/train_0/train/index.json", "data/train_0/valid/index.json"):  # fmt: skip
        assert (lm_run / name).exists(), name
    assert (lm_run / "checkpoints" / "step_30").is_dir()
    curve = read_loss_curve(lm_run / "metrics.jsonl")
    assert [s for s, _ in curve] == [5, 10, 15, 20, 25, 30]
    assert curve[-1][1] < curve[0][1] - 0.3
    valid = read_loss_curve(lm_run / "metrics.jsonl", "valid")
    assert valid
    assert valid[-1][1] < 5.3  # ln(200) = 5.30: better than uniform over the vocabulary


def test_card_loads_model_and_tokenizer(lm_run: Path, container: DependencyContainer) -> None:
    card = str(lm_run / "card.yaml")
    model = container.resolve(ModelHub).load(card)
    tokenizer = container.resolve(TokenizerHub).load(card)
    ids = tokenizer.create_encoder(mode="prompt")("In the beginning")
    logits = model(ids[None, :], None)
    assert logits.shape == (1, ids.numel(), tokenizer.vocab_info.size)
    assert torch.isfinite(logits).all()


def test_generate_from_args_and_file(
    lm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("And God said\n\nBlessed are\n")
    args = ["lm", "generate", str(lm_run), "In the beginning", "--file", str(prompts),
            "--max-new-tokens", "8", "--seed", "3"]  # fmt: skip
    assert main(args) == 0
    first = capsys.readouterr().out.splitlines()
    # The blank prompt line gives a blank output line: outputs stay aligned with inputs.
    assert [line.split(" ")[0] for line in first] == ["In", "And", "", "Blessed"]
    assert all(len(line) > len(p) for line, p in zip(first, ["In the beginning", "And God said"]))
    assert main(args) == 0
    assert capsys.readouterr().out.splitlines() == first  # seeded: reproducible


def test_generate_needs_prompts(lm_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lm", "generate", str(lm_run)]) == 2
    assert "Give prompts" in capsys.readouterr().err
    assert main(["lm", "generate", str(lm_run), "x", "--max-new-tokens", "0"]) == 2
    assert "--max-new-tokens must be at least 1" in capsys.readouterr().err


def test_generate_warns_about_prompts_past_the_trained_length(
    lm_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    long_prompt = " ".join(["and the earth was without form"] * 40)
    assert main(["lm", "generate", str(lm_run), long_prompt, "--max-new-tokens", "2"]) == 0
    assert "as long as the" in capsys.readouterr().err


def test_eval_reports_perplexity(
    lm_run: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lm", "eval", str(lm_run), str(corpus), "--max-lines", "20", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["lines"] == 20
    assert 1.0 < result["perplexity"] < 200.0
    assert abs(result["perplexity"] - torch.tensor(result["loss"]).exp().item()) < 1e-3


def test_continue_training_from_card_on_token_dataset(
    lm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "continued"
    code = main(
        [
            "lm", "train", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={lm_run / 'card.yaml'}",
            "--config", f"data.train_files=[{lm_run / 'data' / 'train_0' / 'train'}]",
            "--config", f"data.valid_files=[{lm_run / 'data' / 'train_0' / 'valid'}]",
            "--config", "train.max_steps=10", "--config", "train.progress_bar=false",
        ]
    )  # fmt: skip
    assert code == 0
    curve = read_loss_curve(out / "metrics.jsonl")
    base = read_loss_curve(lm_run / "metrics.jsonl")
    # Starting from the trained weights, the first loss is near where the first run ended.
    assert curve[0][1] < base[0][1] - 0.2
    assert (out / "tokenizer" / "spm.model").read_bytes() == (
        lm_run / "tokenizer" / "spm.model"
    ).read_bytes()
    assert "Card:" in capsys.readouterr().out


def test_finetune_on_instructions(
    lm_run: Path, instructions: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sft"
    code = main(
        [
            "lm", "finetune", str(out), "--preset", "tiny",
            "--config", f"model.checkpoint={lm_run}",
            "--config", f"data.train_files=[{instructions}]",
            "--config", "data.prompt_template='{prompt} =>'",
            "--config", "train.progress_bar=false",
            "--config", "sample.prompts=['Finish: In the beginning']",
        ]
    )  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "fine-tuning" in printed
    assert "Finish: In the beginning =>" in printed  # the sample uses the template
    curve = read_loss_curve(out / "metrics.jsonl")
    assert curve[-1][1] < curve[0][1]
    assert "prompt_template" in (out / "card.yaml").read_text()


def test_finetune_without_checkpoint_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["lm", "finetune", str(tmp_path / "x"), "--preset", "tiny"]) == 2
    assert "needs a model to start from" in capsys.readouterr().err


def _committed_steps(checkpoints: Path) -> list[int]:
    return sorted(
        int(p.name.removeprefix("step_"))
        for p in checkpoints.glob("step_*")
        if p.is_dir() and p.name.removeprefix("step_").isdigit()
    )


def test_resume_after_kill(
    tmp_path: Path, corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "killed"
    cmd = [
        sys.executable, "-m", "seqkit", "lm", "train", str(out), "--preset", "tiny",
        "--config", f"data.train_files=[{corpus}]", "--config", "train.max_steps=100000",
        "--config", "train.checkpoint_every_n_steps=5", "--config", "train.progress_bar=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not _committed_steps(out / "checkpoints"):
            assert proc.poll() is None, "training exited before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    last = _committed_steps(out / "checkpoints")[-1]
    # The same command resumes; the saved config is reused, with a new step budget.
    assert main(["lm", "train", str(out), "--config", f"train.max_steps={last + 5}"]) == 0
    printed = capsys.readouterr().out
    assert f"resumed from step {last}" in printed
    assert f"Stopped at step {last + 5}" in printed
    steps = [s for s, _ in read_loss_curve(out / "metrics.jsonl")]
    assert steps[-1] == last + 5


def test_generate_interactive(
    lm_run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    stdin = io.TextIOWrapper(io.BytesIO(b"In the beginning\n\nAnd God said\n"))
    monkeypatch.setattr("sys.stdin", stdin)
    assert main(["lm", "generate", str(lm_run), "-i", "--max-new-tokens", "5"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.strip().splitlines()) == 2  # the blank line is not a prompt
    assert "Ctrl-D" in captured.err
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"In \xff the\n")))
    assert main(["lm", "generate", str(lm_run), "-i", "--max-new-tokens", "5"]) == 2
    assert "Standard input is not UTF-8" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("doc", "placeholder"),
    [
        ("README.md", "demo-output/<run>/card.yaml"),
        ("docs/getting-started.md", "runs/bible/card.yaml"),
    ],
)
def test_notebook_snippets_run_on_a_trained_card(
    lm_run: Path, capsys: pytest.CaptureFixture[str], doc: str, placeholder: str
) -> None:
    text = (Path(__file__).resolve().parents[2] / doc).read_text(encoding="utf-8")
    snippets = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    snippet = next(s for s in snippets if placeholder in s)
    exec(compile(snippet.replace(placeholder, str(lm_run / "card.yaml")), doc, "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    assert printed, f"the {doc} snippet printed nothing"


def test_generate_chat_prints_one_reply_per_prompt(
    lm_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prompts = tmp_path / "questions.txt"
    prompts.write_text("Who was Moses?\n\nWhat is light?\n")
    args = ["lm", "generate", str(lm_run), "--file", str(prompts), "--chat",
            "--max-new-tokens", "6", "--seed", "1", "--temperature", "0"]  # fmt: skip
    assert main(args) == 0
    lines = capsys.readouterr().out.split("\n")
    assert len(lines) == 4  # three replies (the blank prompt's is blank) and the last newline
    assert lines[1] == ""
    assert "Who was Moses" not in lines[0]  # only the reply is printed
