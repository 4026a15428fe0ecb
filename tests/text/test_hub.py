from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from seqkit.assets import AssetCardNotFoundError, AssetChecksumError
from seqkit.composition import create_container
from seqkit.text import (
    ByteTokenizer,
    CharTokenizer,
    SentencePieceTokenizer,
    TokenizerFamily,
    TokenizerHub,
    TokenizerLoadError,
    TrainedTokenizer,
    UnknownTokenizerFamilyError,
)


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TokenizerHub:
    """The real container's hub, with an empty user card layer and a private cache."""
    monkeypatch.setenv("SEQKIT_USER_ASSET_DIR", str(tmp_path / "user-cards"))
    monkeypatch.setenv("SEQKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEQKIT_ASSET_DIR", str(tmp_path / "cards"))
    (tmp_path / "cards").mkdir()
    return create_container(load_extension_points=False).resolve(TokenizerHub)


def test_families_are_registered_keyed() -> None:
    container = create_container(load_extension_points=False)
    names = [key for key, _ in container.resolve_all(TokenizerFamily)]
    assert names == ["sentencepiece", "byte", "char", "huggingface"]


def test_builtins_and_local_files(hub: TokenizerHub, trained: TrainedTokenizer) -> None:
    assert isinstance(hub.load("byte"), ByteTokenizer)
    assert isinstance(hub.load("char"), CharTokenizer)
    loaded = hub.load(str(trained.model_path))
    assert isinstance(loaded, SentencePieceTokenizer)
    assert loaded.vocab_info.size == 400


def test_card_file_and_card_name(
    hub: TokenizerHub, trained: TrainedTokenizer, tmp_path: Path
) -> None:
    # A card in the SEQKIT_ASSET_DIR layer is found by name (the store reads layers once).
    shutil.copy(trained.model_path, tmp_path / "cards")
    shutil.copy(trained.card_path, tmp_path / "cards")
    by_path = hub.resolve(str(trained.card_path))
    assert by_path.family == "sentencepiece"
    assert by_path.card == "bible-enes"
    assert by_path.path == trained.model_path.resolve()
    tokenizer = hub.load("bible-enes")
    assert tokenizer.create_encoder(mode="source", lang="es")("Dios").tolist()[0] == 5


def test_card_with_wrong_checksum_is_refused(
    hub: TokenizerHub, trained: TrainedTokenizer, tmp_path: Path
) -> None:
    card = yaml.safe_load(trained.card_path.read_text())
    card["tokenizer_sha256"] = "0" * 64
    card["tokenizer"] = str(trained.model_path)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(card))
    with pytest.raises(AssetChecksumError):
        hub.load(str(path))


def test_card_with_unknown_family(
    hub: TokenizerHub, trained: TrainedTokenizer, tmp_path: Path
) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text(
        yaml.safe_dump(
            {"name": "odd", "tokenizer": str(trained.model_path), "tokenizer_family": "wordpiece"}
        )
    )
    with pytest.raises(UnknownTokenizerFamilyError, match=r"wordpiece.*card 'odd'"):
        hub.load(str(path))


def test_unrecognized_inputs(hub: TokenizerHub, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(TokenizerLoadError, match="not a recognized tokenizer"):
        hub.load(str(tmp_path / "notes.txt"))
    with pytest.raises(AssetCardNotFoundError, match="no-such-tokenizer"):
        hub.load("no-such-tokenizer")


def test_hub_without_asset_store(trained: TrainedTokenizer) -> None:
    from seqkit.text import byte_family, sentencepiece_family

    families = {f.name: f for f in (sentencepiece_family(), byte_family())}
    hub = TokenizerHub(families)
    assert hub.load(trained.model_path).vocab_info.size == 400
    with pytest.raises(TokenizerLoadError, match="built-ins: byte"):
        hub.load("some-card")


def test_an_extension_family_is_used_by_the_hub(tmp_path: Path) -> None:
    container = create_container(load_extension_points=False)

    def load_upper(path: Path | None) -> ByteTokenizer:
        assert path is not None
        return ByteTokenizer()

    family = TokenizerFamily(
        name="dotbytes", loader=load_upper, recognizes=lambda p: p.suffix == ".bytes"
    )
    container.register(TokenizerFamily, lambda _: family, key="dotbytes")
    (tmp_path / "x.bytes").write_text("")
    hub = container.resolve(TokenizerHub)
    assert "dotbytes" in hub.families
    assert hub.resolve(tmp_path / "x.bytes").family == "dotbytes"
    assert isinstance(hub.load(tmp_path / "x.bytes"), ByteTokenizer)
