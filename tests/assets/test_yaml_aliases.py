"""A "billion laughs" card is refused with file and line, never expanded (alias bomb)."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.cli.main import main
from seqkit.composition import create_container
from seqkit.runtime import DependencyContainer
from tests.config.test_safe_yaml import billion_laughs


def _container() -> DependencyContainer:
    # A fresh container reads the layer variables this test set.
    return create_container(load_extension_points=False)


@pytest.fixture
def bomb_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEQKIT_ASSET_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_ASSET_ENV", raising=False)
    path = tmp_path / "cards" / "bomb.yaml"
    path.parent.mkdir()
    path.write_text("name: bomb\nkind: other\n" + billion_laughs(), encoding="utf-8")
    return path


def test_show_refuses_an_alias_bomb_card(
    bomb_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["assets", "show", str(bomb_card)], container=_container()) != 0
    err = capsys.readouterr().err
    assert f"{bomb_card}:3" in err
    assert "anchors are not allowed" in err


def test_validate_reports_an_alias_bomb_card(
    bomb_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["assets", "validate", str(bomb_card)], container=_container()) == 1
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert f"{bomb_card}:3" in out
    assert "anchors are not allowed" in out
    assert ": OK" not in out


def test_a_bomb_in_a_card_layer_is_refused(
    bomb_card: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    system = bomb_card.parent.parent / "system"
    system.mkdir()
    (system / "bomb.yaml").write_text(bomb_card.read_text())
    assert main(["assets", "show", "bomb"], container=_container()) != 0
    assert "anchors are not allowed" in capsys.readouterr().err
