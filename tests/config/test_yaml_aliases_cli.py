"""A recipe ``--config-file`` holding a "billion laughs" document is refused up front."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli.main import main
from tests.config.test_safe_yaml import billion_laughs


def test_recipe_config_file_alias_bomb_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("train:\n  seed: 1\n" + billion_laughs().replace("l", "x_l"))
    assert main(["mt", "train", "--config-file", str(bomb), "--dump-config"]) == 2
    err = capsys.readouterr().err
    assert f"{bomb}:3" in err
    assert "anchors are not allowed" in err


def test_recipe_config_file_merge_key_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "merge.yaml"
    cfg.write_text("train:\n  seed: 1\nmodel: &m {}\nextra:\n  <<: *m\n")
    assert main(["mt", "train", "--config-file", str(cfg), "--dump-config"]) == 2
    err = capsys.readouterr().err
    assert f"{cfg}:3" in err
