"""What an extension registers in the container (recorders, optimizers, LR schedulers) is what
a recipe run uses: the container is the one registry of pluggables."""

from __future__ import annotations

from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import torch

from seqkit.cli.main import main
from seqkit.composition import create_container, load_extensions
from seqkit.metrics.recorders import MetricRecorders, RecorderFactory, RecorderSettings
from seqkit.optim import LRSchedulers, OptimConfigError, Optimizers
from seqkit.recipes.lm.config import LmTrainConfig
from seqkit.runtime import DependencyContainer
from tests.composition import pluggable_extension as ext

REPO = Path(__file__).resolve().parents[2]
EXTENSION = EntryPoint(
    "pluggables", "tests.composition.pluggable_extension:register", "seqkit.extensions"
)


@pytest.fixture
def container() -> Iterator[DependencyContainer]:
    container = create_container(load_extension_points=False)
    loaded = load_extensions(container, discovered=[EXTENSION], strict=True)
    assert [r.loaded for r in loaded.reports] == [True]
    yield container
    for seen in (ext.RECORDS, ext.SETTINGS, ext.OPTIMIZERS, ext.SCHEDULERS, ext.CLOSED):
        seen.clear()


def test_the_registries_hold_builtins_and_the_extension(container: DependencyContainer) -> None:
    assert container.resolve(MetricRecorders).names() == [
        "console",
        "jsonl",
        "tensorboard",
        "memory",
    ]
    assert container.resolve(Optimizers).names() == ["adamw", "plain_sgd", "sgd"]
    assert "halving" in container.resolve(LRSchedulers).names()
    assert "cosine" in container.resolve(LRSchedulers).names()


def test_unknown_names_list_the_registered_ones_with_a_did_you_mean(
    container: DependencyContainer,
) -> None:
    optimizers = container.resolve(Optimizers)
    with pytest.raises(OptimConfigError, match="Did you mean 'plain_sgd'") as info:
        optimizers.config_from_dict({"name": "plain_sdg"})
    assert "'plain_sgd'" in str(info.value)
    assert "'adamw'" in str(info.value)
    with pytest.raises(OptimConfigError, match="Did you mean 'momentum'"):
        optimizers.config_from_dict({"name": "plain_sgd", "momentun": 0.9})
    schedulers = container.resolve(LRSchedulers)
    config = schedulers.config_from_dict({"name": "halving"}, total_steps=7)
    assert config == ext.HalvingConfig(total_steps=7)


def test_dump_config_checks_names_against_the_container(
    container: DependencyContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["lm", "train", "--preset", "tiny", "--dump-config"]
    assert main([*base, "--config", "optim.optimizer={name: plain_sgd}"], container=container) == 0
    capsys.readouterr()
    code = main([*base, "--config", "optim.optimizer.name=plain_sdg"], container=container)
    assert code == 2
    assert "Did you mean 'plain_sgd'?" in capsys.readouterr().err
    # Without the extension the name is unknown.
    plain = create_container(load_extension_points=False)
    assert main([*base, "--config", "optim.optimizer={name: plain_sgd}"], container=plain) == 2
    assert "Unknown optimizer name 'plain_sgd'" in capsys.readouterr().err


@pytest.mark.integration
def test_a_recipe_run_uses_the_extension_recorder_optimizer_and_scheduler(
    container: DependencyContainer, tmp_path: Path
) -> None:
    lines = (REPO / "datasets" / "bible" / "web.en").read_text(encoding="utf-8").splitlines()
    corpus = tmp_path / "web.en"
    corpus.write_text("\n".join(lines[:300]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(
            [
                "lm", "train", str(out), "--preset", "tiny",
                "--config", f"data.train_files=[{corpus}]",
                "--config", "train.max_steps=4",
                "--config", "train.log_every_n_steps=2",
                "--config", "train.progress_bar=false",
                "--config", "train.console_metrics=false",
                "--config", "optim.optimizer={name: plain_sgd, lr: 0.1, momentum: 0.5}",
                "--config", "optim.lr_scheduler={name: halving, every: 2}",
                "--config", "sample.prompts=[]",
            ],
            container=container,
        )  # fmt: skip
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    # The extension's optimizer and scheduler drove training...
    assert len(ext.OPTIMIZERS) == 1
    assert isinstance(ext.OPTIMIZERS[0], torch.optim.SGD)
    assert ext.OPTIMIZERS[0].param_groups[0]["momentum"] == 0.5
    assert len(ext.SCHEDULERS) == 1
    assert ext.SCHEDULERS[0].last_epoch == 4
    assert ext.OPTIMIZERS[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.5**2)
    # ...and its recorder saw the same training records as the built-in JSONL file, then
    # was closed.
    assert [s.run for s in ext.SETTINGS] == ["lm.train"]
    assert ext.SETTINGS[0].output_dir == out
    assert isinstance(ext.SETTINGS[0].config, LmTrainConfig)
    assert ext.SETTINGS[0].config.optim.optimizer["name"] == "plain_sgd"
    train_steps = [step for section, step, _ in ext.RECORDS if section == "train"]
    assert train_steps == [2, 4]
    assert all("loss" in values for section, _, values in ext.RECORDS if section == "train")
    assert (out / "metrics.jsonl").is_file()
    assert ext.CLOSED == ["memory"]


def test_recorders_made_before_a_failing_factory_are_closed(tmp_path: Path) -> None:
    def broken(settings: RecorderSettings) -> None:
        raise RuntimeError("no server")

    recorders = MetricRecorders(
        [
            RecorderFactory(name="memory", create=ext.create_memory_recorder),
            RecorderFactory(name="broken", create=broken),
        ]
    )
    with pytest.raises(RuntimeError, match="no server"):
        recorders.create(RecorderSettings(output_dir=tmp_path))
    assert ext.CLOSED == ["memory"]
    ext.CLOSED.clear()
    ext.SETTINGS.clear()
