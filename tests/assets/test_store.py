from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import (
    AssetCardError,
    AssetCardNotFoundError,
    DirectoryCardSource,
    StandardAssetStore,
)
from seqkit.config.safe_yaml import YamlError

WriteCard = Callable[[Path, str], Path]


def _layers(tmp_path: Path) -> list[DirectoryCardSource]:
    return [
        DirectoryCardSource("package", tmp_path / "package"),
        DirectoryCardSource("system", tmp_path / "system"),
        DirectoryCardSource("user", tmp_path / "user"),
    ]


def test_later_layers_override_field_by_field(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(
        tmp_path / "package" / "m.yaml",
        """
        name: tiny
        model_family: llama
        model_arch: tiny
        checkpoint: ckpt.safetensors
        """,
    )
    write_card(tmp_path / "system" / "m.yaml", "name: tiny\nmodel_arch: small\n")
    user = write_card(tmp_path / "user" / "nested" / "m.yml", "name: tiny\n\ncheckpoint: mine.pt\n")
    store = StandardAssetStore(_layers(tmp_path))

    card = store.retrieve_card("tiny")
    assert card.field("model_family").as_str() == "llama"
    assert card.field("model_arch").as_str() == "small"
    assert card.field("checkpoint").as_str() == "mine.pt"
    assert card.origin("model_family").layer == "package"
    assert card.origin("model_arch").layer == "system"
    assert card.origin("checkpoint").layer == "user"
    assert card.origin("checkpoint").file == user
    assert card.origin("checkpoint").line == 3
    assert card.definition.layer == "user"
    assert store.layers() == ["package", "system", "user"]


def test_env_variants_follow_argument_then_default(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(
        tmp_path / "package" / "m.yaml",
        """
        name: tiny
        model_family: llama
        checkpoint: cpu.pt
        ---
        name: tiny@cluster
        checkpoint: /shared/tiny.pt
        """,
    )
    # The user layer overrides the variant's field too.
    write_card(tmp_path / "user" / "m.yaml", "name: tiny@cluster\nmodel_arch: big\n")
    plain = StandardAssetStore(_layers(tmp_path))
    assert plain.retrieve_card("tiny").field("checkpoint").as_str() == "cpu.pt"
    assert plain.retrieve_card("tiny").env is None

    variant = plain.retrieve_card("tiny", env="cluster")
    assert variant.name == "tiny"
    assert variant.env == "cluster"
    assert variant.field("checkpoint").as_str() == "/shared/tiny.pt"
    assert variant.field("model_family").as_str() == "llama"  # inherited from `tiny`
    assert variant.field("model_arch").as_str() == "big"
    assert plain.retrieve_card("tiny@cluster").field("model_arch").as_str() == "big"

    # An environment without a variant falls back to the plain card.
    assert plain.retrieve_card("tiny", env="laptop").field("checkpoint").as_str() == "cpu.pt"

    defaulted = StandardAssetStore(_layers(tmp_path), env="cluster")
    assert defaulted.retrieve_card("tiny").env == "cluster"
    assert defaulted.retrieve_names() == ["tiny"]
    assert defaulted.retrieve_variants("tiny") == ["cluster"]


def test_base_chain_is_multi_level_and_reports_lineage(
    tmp_path: Path, write_card: WriteCard
) -> None:
    write_card(
        tmp_path / "package" / "m.yaml",
        """
        name: llama-base
        abstract: true
        model_family: llama
        model_config: {dim: 64}
        ---
        name: llama-tiny
        base: llama-base
        model_arch: tiny
        ---
        name: llama-tiny-chat
        base: llama-tiny
        checkpoint: chat.pt
        model_config: {dim: 128}
        """,
    )
    store = StandardAssetStore(_layers(tmp_path))
    card = store.retrieve_card("llama-tiny-chat")
    assert card.bases == ("llama-tiny", "llama-base")
    assert card.field("model_family").as_str() == "llama"
    assert card.field("model_arch").as_str() == "tiny"
    assert card.field("model_config").as_dict() == {"dim": 128}
    assert card.origin("model_family").card == "llama-base"
    assert not card.field("abstract").exists()  # abstract is not inherited
    assert not card.field("base").exists()
    assert card.kind == "model"


def test_missing_base_names_card_field_file_and_line(tmp_path: Path, write_card: WriteCard) -> None:
    path = write_card(tmp_path / "package" / "m.yaml", "name: a\nx: 1\nbase: nowhere\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardError) as info:
        store.retrieve_card("a")
    message = str(info.value)
    assert f"{path}:3" in message
    assert "card 'a', field 'base'" in message
    assert "'nowhere' does not exist" in message


def test_base_cycle_is_reported_with_its_path(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(
        tmp_path / "package" / "m.yaml",
        "name: a\nbase: b\n---\nname: b\nbase: c\n---\nname: c\nbase: a\n"
        "---\nname: self\nbase: self\n",
    )
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardError, match=r"cycle \(a -> b -> c -> a\)"):
        store.retrieve_card("a")
    with pytest.raises(AssetCardError, match="cycle"):
        store.retrieve_card("self")


def test_card_without_name_names_file_and_line(tmp_path: Path, write_card: WriteCard) -> None:
    path = write_card(tmp_path / "package" / "m.yaml", "name: ok\n---\nmodel_family: llama\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardError) as info:
        store.retrieve_names()
    assert f"{path}:3" in str(info.value)
    assert "no 'name' field" in str(info.value)


@pytest.mark.parametrize("bad", ["name: [x]", "name: 'a b'", "name: a@b@c", "name: ''", "- a"])
def test_bad_name_or_non_mapping_is_rejected(
    tmp_path: Path, write_card: WriteCard, bad: str
) -> None:
    path = write_card(tmp_path / "package" / "m.yaml", bad + "\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardError, match=str(path)):
        store.retrieve_names()


def test_malformed_yaml_names_file_and_line(tmp_path: Path, write_card: WriteCard) -> None:
    path = write_card(tmp_path / "user" / "m.yaml", "name: a\nx: {oops\ny: 2\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(YamlError) as info:
        store.retrieve_card("a")
    assert info.value.source == str(path)
    assert info.value.line is not None


def test_duplicate_key_in_a_card_is_refused(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(tmp_path / "package" / "m.yaml", "name: a\ncheckpoint: x\ncheckpoint: y\n")
    with pytest.raises(YamlError, match=r"m\.yaml:3: .*duplicate key 'checkpoint'"):
        StandardAssetStore(_layers(tmp_path)).retrieve_names()


def test_duplicate_name_within_a_layer_names_both_files(
    tmp_path: Path, write_card: WriteCard
) -> None:
    first = write_card(tmp_path / "system" / "a.yaml", "name: twin\n")
    second = write_card(tmp_path / "system" / "b.yaml", "x: 1\nname: twin\n")
    with pytest.raises(AssetCardError) as info:
        StandardAssetStore(_layers(tmp_path)).retrieve_names()
    assert f"{second}:2" in str(info.value)
    assert f"{first}:1" in str(info.value)


def test_unknown_name_suggests_close_names(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(tmp_path / "package" / "m.yaml", "name: llama-tiny\n---\nname: llama-small\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardNotFoundError) as info:
        store.retrieve_card("llama-tin")
    assert info.value.suggestions[0] == "llama-tiny"
    assert "Did you mean 'llama-tiny'" in str(info.value)


def test_retrieve_by_path_can_use_bases_from_the_store(
    tmp_path: Path, write_card: WriteCard
) -> None:
    write_card(tmp_path / "package" / "m.yaml", "name: base-card\nmodel_family: llama\n")
    path = write_card(
        tmp_path / "elsewhere" / "mine.yaml",
        "name: mine\nbase: base-card\ncheckpoint: w.pt\n---\nname: mine@gpu\ncheckpoint: g.pt\n",
    )
    store = StandardAssetStore(_layers(tmp_path))
    card = store.retrieve_card(str(path))
    assert card.name == "mine"
    assert card.field("model_family").as_str() == "llama"
    assert card.origin("checkpoint").layer == "file"
    assert store.retrieve_card(str(path), env="gpu").field("checkpoint").as_str() == "g.pt"
    assert "mine" not in store.retrieve_names()  # the file does not join the store


def test_retrieve_by_path_needs_exactly_one_card(tmp_path: Path, write_card: WriteCard) -> None:
    path = write_card(tmp_path / "two.yaml", "name: a\n---\nname: b\n")
    store = StandardAssetStore(_layers(tmp_path))
    with pytest.raises(AssetCardError, match="exactly one card"):
        store.retrieve_card(str(path))
    with pytest.raises(AssetCardNotFoundError, match=r"card file .* does not exist"):
        store.retrieve_card(str(tmp_path / "missing.yaml"))


def test_missing_directories_are_empty_layers(tmp_path: Path) -> None:
    store = StandardAssetStore([*_layers(tmp_path), DirectoryCardSource("none", None)])
    assert store.retrieve_names() == []
