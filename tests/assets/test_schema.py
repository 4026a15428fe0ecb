from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from seqkit.assets import AssetCardValidator, DirectoryCardSource, StandardAssetStore
from seqkit.assets.validate import validate_sources

WriteCard = Callable[[Path, str], Path]

GOOD_SHA = "ab" * 32


def _store(tmp_path: Path) -> StandardAssetStore:
    return StandardAssetStore([DirectoryCardSource("t", tmp_path / "cards")])


def test_valid_cards_of_each_kind(tmp_path: Path, write_card: WriteCard) -> None:
    write_card(
        tmp_path / "cards" / "ok.yaml",
        f"""
        name: m
        model_family: llama
        model_arch: tiny
        model_config: {{dim: 8}}
        checkpoint: https://example.org/m.safetensors
        checkpoint_sha256: {GOOD_SHA}
        tokenizer: tok
        ---
        name: tok
        tokenizer: spm.model
        tokenizer_family: sentencepiece
        ---
        name: byte-tok
        tokenizer_family: byte
        ---
        name: data
        dataset: corpus/
        splits: {{train: a.txt}}
        ---
        name: notes
        anything: goes
        """,
    )
    store = _store(tmp_path)
    validator = AssetCardValidator(
        model_families={"llama"}, tokenizer_families={"sentencepiece", "byte"}
    )
    kinds = {}
    for name in store.retrieve_names():
        card = store.retrieve_card(name)
        kinds[name] = card.kind
        assert validator.validate(card) == [], name
    assert kinds == {
        "m": "model",
        "tok": "tokenizer",
        "byte-tok": "tokenizer",
        "data": "dataset",
        "notes": "other",
    }


def test_reports_every_problem_at_once_with_lines(tmp_path: Path, write_card: WriteCard) -> None:
    path = write_card(
        tmp_path / "cards" / "bad.yaml",
        """
        name: bad
        model_family: lama
        model_config: [1]
        checkpoint_sha256: nothex
        tokenizer_family: 3
        weights: ftp://example.org/x
        weights_sha256: abc
        orphan_sha256: 0000
        checkpont: w.pt
        """,
    )
    card = _store(tmp_path).retrieve_card("bad")
    problems = AssetCardValidator(
        model_families={"llama", "transformer"}, tokenizer_families={"sentencepiece"}
    ).validate(card)
    rendered = [str(p) for p in problems]
    by_field = {p.field: p for p in problems}
    assert by_field[None].message.startswith("a model card needs the field 'checkpoint'")
    assert "unknown model family 'lama'" in by_field["model_family"].message
    assert "Did you mean 'llama'" in by_field["model_family"].message
    assert by_field["model_family"].location == f"{path}:2"
    assert by_field["model_config"].location == f"{path}:3"
    assert "expected a mapping" in by_field["model_config"].message
    assert "64 hexadecimal" in by_field["checkpoint_sha256"].message
    assert "expected a string" in by_field["tokenizer_family"].message
    assert "unsupported URI scheme" in by_field["weights"].message
    assert "64 hexadecimal" in by_field["weights_sha256"].message
    assert "no field 'orphan'" in by_field["orphan_sha256"].message
    assert by_field["checkpont"].message == "unknown field; did you mean 'checkpoint'?"
    assert len(problems) == 9, rendered
    assert all(r.startswith(str(path)) for r in rendered)


def test_family_check_is_skipped_without_registered_families(
    tmp_path: Path, write_card: WriteCard
) -> None:
    write_card(tmp_path / "cards" / "m.yaml", "name: m\nmodel_family: anything\ncheckpoint: x\n")
    card = _store(tmp_path).retrieve_card("m")
    assert AssetCardValidator().validate(card) == []
    assert AssetCardValidator(model_families=set()).validate(card) != []


def test_abstract_cards_skip_required_fields_and_escape_is_flagged(
    tmp_path: Path, write_card: WriteCard
) -> None:
    write_card(
        tmp_path / "cards" / "m.yaml",
        """
        name: family-base
        abstract: true
        model_family: llama
        ---
        name: escapes
        base: family-base
        checkpoint: ../../outside.pt
        ---
        name: unknown-kind
        kind: video
        """,
    )
    store = _store(tmp_path)
    validator = AssetCardValidator()
    assert validator.validate(store.retrieve_card("family-base")) == []
    problems = validator.validate(store.retrieve_card("escapes"))
    assert [p.field for p in problems] == ["checkpoint"]
    assert "leaves" in problems[0].message
    [problem] = validator.validate(store.retrieve_card("unknown-kind"))
    assert "unknown kind 'video'" in problem.message


def test_validate_sources_collects_load_errors_and_card_errors(
    tmp_path: Path, write_card: WriteCard
) -> None:
    cards = tmp_path / "cards"
    write_card(cards / "a.yaml", "name: a\nx: [unclosed\n")
    write_card(cards / "b.yaml", "name: b\nbase: ghost\n")
    write_card(cards / "c.yaml", "x: 1\n")
    write_card(cards / "d.yaml", "name: d\ntokenizer: t.model\n")
    write_card(cards / "e.yaml", "name: d\n")
    report = validate_sources([DirectoryCardSource("t", cards)], AssetCardValidator())
    text = "\n".join(report.problems)
    assert not report.ok
    assert f"{cards / 'a.yaml'}:" in text
    assert "'ghost' does not exist" in text
    assert f"{cards / 'c.yaml'}:1" in text
    assert "no 'name'" in text
    assert "needs the field 'tokenizer_family'" in text
    assert "defined twice" in text
    assert len(report.problems) == 5, text
    assert sorted(report.checked) == ["b", "d"]
