from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from seqkit.assets import AssetCard, AssetCardError, DirectoryCardSource, StandardAssetStore

WriteCard = Callable[[Path, str], Path]


@pytest.fixture
def card(tmp_path: Path, write_card: WriteCard) -> AssetCard:
    write_card(
        tmp_path / "cards" / "c.yaml",
        """
        name: c
        text: hello
        empty: ''
        number: 3
        ratio: 0.5
        flag: true
        items: [1, 2]
        config: {dim: 4}
        web: https://example.org/w.pt
        local: file:///tmp/w.pt
        relative: sub/w.pt
        ftp: ftp://example.org/w.pt
        nohost: http:///w.pt
        sha: ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789
        """,
    )
    return StandardAssetStore([DirectoryCardSource("t", tmp_path / "cards")]).retrieve_card("c")


def test_typed_accessors(card: AssetCard) -> None:
    assert card.field("text").as_str() == "hello"
    assert card.field("number").as_int() == 3
    assert card.field("number").as_float() == 3.0
    assert card.field("ratio").as_float() == 0.5
    assert card.field("flag").as_bool() is True
    assert card.field("items").as_list() == [1, 2]
    assert card.field("config").as_dict() == {"dim": 4}
    assert card.field("web").as_uri() == "https://example.org/w.pt"
    assert card.field("local").as_uri() == "file:///tmp/w.pt"
    assert card.field("relative").as_uri() == "sub/w.pt"
    assert card.field("sha").as_sha256().startswith("abcdef")
    assert card.kind == "other"
    assert "text" in card.field_names()


def test_accessors_return_copies(card: AssetCard) -> None:
    card.field("items").as_list().append(3)
    card.field("config").as_dict()["dim"] = 9
    assert card.field("items").as_list() == [1, 2]
    assert card.field("config").as_dict() == {"dim": 4}


@pytest.mark.parametrize(
    ("field", "accessor", "message"),
    [
        ("text", "as_int", "expected an integer, got str"),
        ("flag", "as_int", "got a boolean"),
        ("empty", "as_str", "non-empty"),
        ("number", "as_dict", "expected a mapping"),
        ("ftp", "as_uri", "unsupported URI scheme 'ftp:'"),
        ("nohost", "as_uri", "has no host"),
        ("text", "as_sha256", "64 hexadecimal digits"),
        ("missing", "as_str", "the field is missing"),
    ],
)
def test_errors_name_card_field_file_and_line(
    card: AssetCard, field: str, accessor: str, message: str
) -> None:
    with pytest.raises(AssetCardError) as info:
        getattr(card.field(field), accessor)()
    text = str(info.value)
    assert message in text
    assert f"card 'c', field '{field}'" in text
    assert str(card.file) in text
    if field != "missing":
        assert info.value.line == card.origin(field).line
        assert info.value.line is not None
        assert info.value.line > 1


def test_exists(card: AssetCard) -> None:
    assert card.field("text").exists()
    assert not card.field("nothing").exists()
