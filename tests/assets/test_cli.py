"""``seqkit assets ...`` run through the real parser against a real container."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import AssetCardNotFoundError, AssetStore, register_card_directory
from seqkit.cli.command import CliCommand, CliGroup
from seqkit.cli.main import build_parser
from seqkit.composition import create_container
from seqkit.runtime import DependencyContainer
from tests.assets.http_server import LoopbackServer

WriteCard = Callable[[Path, str], Path]


@pytest.fixture
def layers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, write_card: WriteCard) -> Path:
    monkeypatch.setenv("SEQKIT_ASSET_DIR", str(tmp_path / "system"))
    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("SEQKIT_ASSET_ENV", raising=False)
    monkeypatch.delenv("SEQKIT_OFFLINE", raising=False)
    write_card(
        tmp_path / "system" / "m.yaml",
        """
        name: demo-lm
        model_family: llama
        model_arch: tiny
        checkpoint: w.pt
        ---
        name: demo-lm@cluster
        model_arch: big
        """,
    )
    (tmp_path / "system" / "w.pt").write_bytes(b"weights")
    write_card(tmp_path / "user" / "m.yaml", "name: demo-lm\ndescription: mine\n")
    return tmp_path


def _run(container: DependencyContainer, *argv: str) -> int:
    groups = [g for _, g in container.resolve_all(CliGroup)]
    commands = [c for _, c in container.resolve_all(CliCommand)]
    args = build_parser(groups, commands).parse_args(list(argv))
    return int(args._run(args))


def test_list_shows_kind_family_layer_and_variants(
    layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    container = create_container(load_extension_points=False)
    assert _run(container, "assets", "list", "--kind", "model") == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("demo-lm"))
    assert line.split() == ["demo-lm", "model", "llama/tiny", "user", "cluster"]
    assert "bible-web-en" not in out  # a dataset card, filtered out by --kind

    assert _run(container, "assets", "list", "--kind", "dataset") == 0
    assert "bible-web-en" in capsys.readouterr().out


def test_show_prints_every_field_with_provenance(
    layers: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    container = create_container(load_extension_points=False)
    assert _run(container, "assets", "show", "demo-lm", "--env", "cluster") == 0
    out = capsys.readouterr().out
    assert "env: cluster" in out
    lines = out.splitlines()
    arch = next(i for i, line in enumerate(lines) if line.split()[:1] == ["model_arch"])
    assert lines[arch].split() == ["model_arch", "big"]
    assert lines[arch + 1].split("# ")[1] == (f"{layers / 'system' / 'm.yaml'}:7 (layer system)")
    family = next(i for i, line in enumerate(lines) if line.split()[:1] == ["model_family"])
    assert (
        f"{layers / 'system' / 'm.yaml'}:2 (layer system, from card 'demo-lm')" in lines[family + 1]
    )
    assert f"{layers / 'user' / 'm.yaml'}:2 (layer user" in out


def test_env_variable_selects_the_variant(layers: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEQKIT_ASSET_ENV", "cluster")
    store = create_container(load_extension_points=False).resolve(AssetStore)
    assert store.retrieve_card("demo-lm").field("model_arch").as_str() == "big"
    assert store.retrieve_card("demo-lm", env="none").field("model_arch").as_str() == "tiny"


def test_validate_reports_problems_and_exit_status(
    layers: Path, write_card: WriteCard, capsys: pytest.CaptureFixture[str]
) -> None:
    container = create_container(load_extension_points=False)
    assert _run(container, "assets", "validate") == 0
    assert "OK" in capsys.readouterr().out

    bad = write_card(
        layers / "check" / "bad.yaml",
        "name: broken\nbase: demo-lm\ncheckpoint_sha256: xyz\n---\nname: lost\nbase: nowhere\n",
    )
    assert _run(container, "assets", "validate", str(bad)) == 1
    out = capsys.readouterr().out
    assert f"{bad}:3: card 'broken', field 'checkpoint_sha256'" in out
    assert f"{bad}:6" in out
    assert "'nowhere' does not exist" in out
    assert "2 card(s) checked: 2 problem(s)" in out


def test_download_fetches_every_file_of_the_card(
    layers: Path,
    write_card: WriteCard,
    server: LoopbackServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body = b"tokenizer bytes" * 100
    server.state.files["/spm.model"] = body
    sha = hashlib.sha256(body).hexdigest()
    write_card(
        layers / "user" / "t.yaml",
        f"""
        name: demo-tok
        tokenizer: {server.url("/spm.model")}
        tokenizer_sha256: {sha}
        tokenizer_family: sentencepiece
        ---
        name: demo-lm2
        base: demo-lm
        tokenizer: demo-tok
        """,
    )
    container = create_container(load_extension_points=False)
    assert _run(container, "assets", "download", "demo-lm2") == 0
    out = capsys.readouterr().out
    assert f"demo-lm2.checkpoint: {layers / 'system' / 'w.pt'}" in out
    assert "no sha256 in the card, not verified" in out
    tok_line = next(line for line in out.splitlines() if line.startswith("demo-tok.tokenizer"))
    assert tok_line.endswith(" (sha256 OK)")
    tok_path = Path(tok_line.split(": ", 1)[1].rsplit(" (", 1)[0])
    assert tok_path.read_bytes() == body
    assert tok_path.is_relative_to(layers / "cache")


def test_unknown_card_suggests(layers: Path) -> None:
    container = create_container(load_extension_points=False)
    with pytest.raises(AssetCardNotFoundError, match="Did you mean 'demo-lm'"):
        _run(container, "assets", "show", "demo-ln")


def test_extension_layer_sits_between_package_and_system(
    layers: Path, write_card: WriteCard
) -> None:
    ext = layers / "ext"
    write_card(
        ext / "e.yaml",
        "name: ext-only\ndataset: d.txt\n---\nname: demo-lm\nmodel_arch: from-ext\nlicense: ext\n",
    )
    container = create_container(load_extension_points=False)
    register_card_directory(container, "my-extension", ext)
    store = container.resolve(AssetStore)
    assert "ext-only" in store.retrieve_names()
    card = store.retrieve_card("demo-lm")
    assert card.field("license").as_str() == "ext"  # extension adds fields
    assert card.field("model_arch").as_str() == "tiny"  # the system layer still wins
    assert store.layers() == ["package", "my-extension", "system", "user"]
