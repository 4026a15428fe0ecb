from __future__ import annotations

from pathlib import Path

import pytest

from seqkit.config.safe_yaml import (
    YamlError,
    load_yaml,
    load_yaml_documents,
    load_yaml_string,
    load_yaml_string_documents,
)


def test_loads_plain_values_with_the_line_of_every_key() -> None:
    doc = load_yaml_string(
        "model:\n  dim: 64\n  layers: [1, 2]\nname: x\nitems:\n  - a\n  - b: 3\n",
        source="cfg.yaml",
    )
    assert doc.data == {
        "model": {"dim": 64, "layers": [1, 2]},
        "name": "x",
        "items": ["a", {"b": 3}],
    }
    assert doc.line_of("model") == 1
    assert doc.line_of("model", "dim") == 2
    assert doc.line_of("name") == 4
    assert doc.line_of("items", 1) == 7
    assert doc.line_of("items", 1, "b") == 7
    assert doc.where("model", "layers") == "cfg.yaml:3"


def test_line_of_falls_back_to_the_closest_known_parent() -> None:
    doc = load_yaml_string("a:\n  b: 1\n")
    assert doc.line_of("a", "missing") == 1
    assert doc.line_of("nothing") == doc.line == 1


def test_duplicate_key_names_file_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("lr: 1\nother: 2\nlr: 3\n")
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.source == str(path)
    assert info.value.line == 3
    assert "duplicate key 'lr'" in str(info.value)
    assert "line 1" in str(info.value)
    assert str(info.value).startswith(f"{path}:3:")


def test_duplicate_key_in_a_nested_mapping_is_rejected() -> None:
    with pytest.raises(YamlError, match=r"x\.yaml:4: .*duplicate key 'dim'"):
        load_yaml_string("model:\n  dim: 1\n  heads: 2\n  dim: 3\n", source="x.yaml")


def test_merge_keys_are_refused_as_aliases() -> None:
    with pytest.raises(YamlError, match=r"m\.yaml:1: .*anchors are not allowed \('&b'\)"):
        load_yaml_string("base: &b {x: 1, y: 2}\nchild:\n  <<: *b\n  x: 5\n", source="m.yaml")


def test_malformed_yaml_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("a: 1\nb: [1, 2\nc: 3\n")
    with pytest.raises(YamlError) as info:
        load_yaml(path)
    assert info.value.line is not None
    assert info.value.line >= 2
    assert str(path) in str(info.value)


def test_python_tags_are_refused() -> None:
    with pytest.raises(YamlError, match="constructor"):
        load_yaml_string("x: !!python/object/apply:os.system ['true']\n")


def test_unhashable_key_is_an_error_not_a_crash() -> None:
    with pytest.raises(YamlError, match="scalar"):
        load_yaml_string("? [1, 2]\n: x\n")


def test_multi_document_files_keep_per_document_lines(tmp_path: Path) -> None:
    path = tmp_path / "cards.yaml"
    path.write_text("name: a\nx: 1\n---\n# comment\nname: b\ny: 2\n---\n")
    docs = load_yaml_documents(path)
    assert [d.data for d in docs] == [{"name": "a", "x": 1}, {"name": "b", "y": 2}, None]
    assert docs[1].line_of("y") == 6
    assert docs[1].index == 1
    assert all(d.source == str(path) for d in docs)


def test_duplicate_in_a_later_document_names_its_line() -> None:
    with pytest.raises(YamlError) as info:
        load_yaml_string_documents("a: 1\n---\nb: 1\nb: 2\n", source="s.yaml")
    assert info.value.line == 4


def test_single_document_loader_refuses_several() -> None:
    with pytest.raises(YamlError, match="expected one YAML document"):
        load_yaml_string("a: 1\n---\nb: 2\n")


def test_empty_text_is_none() -> None:
    assert load_yaml_string("").data is None
    assert load_yaml_string_documents("") == []


def billion_laughs() -> str:
    """Nine levels of nine aliases: 9**9 items once the value is walked."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        refs = ", ".join([f"*l{i - 1}"] * 9)
        lines.append(f"l{i}: &l{i} [{refs}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(billion_laughs())
    with pytest.raises(YamlError, match=r"anchors are not allowed \('&l0'\)") as info:
        load_yaml_documents(path)
    assert info.value.line == 1
    assert info.value.source == str(path)


def test_alias_without_anchor_is_refused_at_its_line() -> None:
    # An alias to an undefined anchor is a YAML error; a defined one is refused either way.
    with pytest.raises(YamlError) as info:
        load_yaml_string("a: 1\nb: *nothing\n", source="x.yaml")
    assert info.value.line == 2


def test_alias_in_a_later_document_is_refused() -> None:
    with pytest.raises(YamlError, match="anchors are not allowed") as info:
        load_yaml_string_documents("a: 1\n---\nb: &x 1\nc: *x\n", source="s.yaml")
    assert info.value.line == 3


def test_missing_and_non_utf8_files_are_yaml_errors(tmp_path: Path) -> None:
    with pytest.raises(YamlError, match="cannot read"):
        load_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes(b"a: \xff\xfe\n")
    with pytest.raises(YamlError, match="not UTF-8"):
        load_yaml_documents(bad)
