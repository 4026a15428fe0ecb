"""The recipe command-line surface, through the real ``seqkit`` entry point."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli.main import main
from seqkit.config import PresetRegistry, load_config, resolve_config
from seqkit.recipes.cli_args import save_config
from seqkit.recipes.lm.config import LmFinetuneConfig, LmTrainConfig
from seqkit.recipes.lm.presets import lm_finetune_presets, lm_train_presets
from seqkit.recipes.mt.config import MtTrainConfig
from seqkit.recipes.mt.presets import mt_train_presets

REGISTRIES: list[tuple[str, PresetRegistry[object], type[object]]] = [
    ("lm train", lm_train_presets(), LmTrainConfig),  # type: ignore[list-item]
    ("lm finetune", lm_finetune_presets(), LmFinetuneConfig),  # type: ignore[list-item]
    ("mt train", mt_train_presets(), MtTrainConfig),  # type: ignore[list-item]
]
ALL_PRESETS = [(cmd, name, kls) for cmd, reg, kls in REGISTRIES for name in reg.names()]


@pytest.mark.parametrize(("command", "preset", "kls"), ALL_PRESETS)
def test_dump_config_round_trips(
    command: str, preset: str, kls: type[object], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*command.split(), "--preset", preset, "--dump-config"]) == 0
    dumped = capsys.readouterr().out
    assert dumped.startswith("# ")  # every field carries its docstring
    path = tmp_path / "config.yaml"
    path.write_text(dumped)
    registry = dict((c, r) for c, r, _ in REGISTRIES)[command]
    assert load_config(path, kls) == registry.create(preset)
    # Feeding the dump back as --config-file changes nothing either.
    again = resolve_config(registry.create(preset), config_files=[path])
    assert again == registry.create(preset)


def test_overrides_and_files_reach_the_dump(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = tmp_path / "extra.yaml"
    extra.write_text("train:\n  batch_size: 3\n  seed: 11\n")
    code = main(
        [
            "lm", "train", "--preset", "tiny", "--config-file", str(extra),
            "--config", "train.seed=12", "--config", "optim.optimizer.lr=5e-3",
            "--config", "data.train_files=[a.txt, b.txt]", "--dump-config",
        ]
    )  # fmt: skip
    assert code == 0
    path = tmp_path / "out.yaml"
    path.write_text(capsys.readouterr().out)
    config = load_config(path, LmTrainConfig)
    assert config.train.batch_size == 3
    assert config.train.seed == 12
    assert config.optim.optimizer["lr"] == 5e-3
    assert config.data.train_files == [Path("a.txt"), Path("b.txt")]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--config", "train.max_step=3"], "Did you mean 'train.max_steps'?"),
        (["--config", "train.max_steps=many"], "'train.max_steps' must be int"),
        (["--config", "trian.seed=1"], "Did you mean 'train'?"),
        (["--config", "seed=1"], "Did you mean 'train.seed'?"),
        (["--config", "train.dtype=fp8"], "'train.dtype' must be 'float32' | 'bfloat16'"),
        (["--config", "optim.optimizer.name=adamx"], "Did you mean 'adamw'?"),
        (["--config", "train.batch_size=0"], "train.batch_size must be >= 1"),
        (["--config", "nonsense"], "KEY=VALUE"),
        (["--preset", "tiniest"], "Did you mean 'tiny'?"),
    ],
)
def test_config_errors_exit_2_with_a_pointed_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["lm", "train"] if args[0] == "--preset" else ["lm", "train", "--preset", "tiny"]
    assert main([*base, *args, "--dump-config"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("seqkit: error: ")
    assert message in err


def test_config_file_error_names_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  seed: 1\n  max_stepz: 4\n")
    assert main(["mt", "train", "--config-file", str(bad), "--dump-config"]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:3" in err
    assert "Did you mean 'train.max_steps'?" in err


def test_list_presets(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["mt", "train", "--list-presets"]) == 0
    out = capsys.readouterr().out
    assert "tiny" in out
    assert "(default)" in out


def test_output_dir_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lm", "train", "--preset", "tiny"]) == 2
    assert "OUTPUT_DIR is required" in capsys.readouterr().err


def test_saved_config_is_reused_and_extended(tmp_path: Path) -> None:
    from seqkit.recipes.cli_args import resolve_invocation

    registry = lm_train_presets()
    saved = registry.create("tiny")
    saved.train.max_steps = 7
    save_config(saved, tmp_path)
    invocation = resolve_invocation(registry, output_dir=tmp_path)
    assert invocation.resumed_config
    assert invocation.config == saved
    again = resolve_invocation(registry, output_dir=tmp_path, overrides=["train.max_steps=9"])
    assert again.config.train.max_steps == 9
