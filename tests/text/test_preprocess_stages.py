from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from seqkit.text import (
    Column,
    PreprocessError,
    PreprocessOptions,
    SentencePieceTokenizer,
    preprocess,
)
from seqkit.text.line_policy import SkipReason
from seqkit.text.preprocess_stages import CheckedBatch, CheckStage, EncodeStage

from .conftest import bible_lines


def test_check_stage_skips_a_pair_once_for_its_first_bad_side() -> None:
    check = CheckStage(max_bytes=8)
    batch = check((["ok", "", "fine", "é" * 5, "x"], ["si", b"\xff", "  ", "bien", ""]))
    assert batch.num_lines == 5
    assert batch.sides == [["ok"], ["si"]]
    assert batch.skipped == [
        (1, 0, SkipReason.EMPTY),
        (2, 1, SkipReason.EMPTY),
        (3, 0, SkipReason.TOO_LONG),  # 5 characters, 10 bytes
        (4, 1, SkipReason.EMPTY),
    ]
    # UTF-8 bytes plus one newline per line, both sides.
    assert batch.num_bytes == (2 + 0 + 4 + 10 + 1 + 5) + (2 + 1 + 2 + 4 + 0 + 5)


def test_check_stage_rejects_sides_out_of_step() -> None:
    with pytest.raises(PreprocessError, match="out of step"):
        CheckStage(max_bytes=None)((["a", "b"], ["c"]))


def test_encode_stage_maps_too_long_rows_back_to_bucket_lines(
    sp_tokenizer: SentencePieceTokenizer,
) -> None:
    encoder = sp_tokenizer.create_encoder()
    short, long = "In the beginning", "word " * 50
    checked = CheckedBatch(
        num_lines=5,
        num_bytes=0,
        sides=[[short, long, short]],  # bucket lines 0, 2 and 4 (1 and 3 already skipped)
        skipped=[(1, 0, SkipReason.EMPTY), (3, 0, SkipReason.INVALID_UTF8)],
    )
    encoded = EncodeStage([encoder], dtype="uint16", max_tokens=20)(checked)
    assert encoded.skipped == [
        (1, 0, SkipReason.EMPTY),
        (2, 0, SkipReason.TOO_LONG),
        (3, 0, SkipReason.INVALID_UTF8),
    ]
    (flat,) = encoded.sides
    assert flat.tokens.dtype == np.uint16
    assert flat.lengths.tolist() == [len(encoder(short))] * 2
    assert flat.tokens.tolist() == encoder(short).tolist() * 2


def test_error_in_the_background_check_surfaces_as_itself(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise PreprocessError("the check broke")

    monkeypatch.setattr(sys.modules["seqkit.text.preprocess_stages"], "classify_batch", broken)
    (tmp_path / "a.txt").write_text("\n".join(bible_lines("web.en", 50)) + "\n")
    with pytest.raises(PreprocessError, match="the check broke"):
        preprocess(
            [Column(path=tmp_path / "a.txt", encoder=sp_tokenizer.create_encoder())],
            tmp_path / "ds",
            vocab_size=sp_tokenizer.vocab_info.size,
            tokenizer={},
            options=PreprocessOptions(progress=False, chunk_lines=8),
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]


def test_foreign_error_is_wrapped_naming_the_inputs(
    sp_tokenizer: SentencePieceTokenizer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_: object, **__: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(sys.modules["seqkit.text.preprocess_stages"], "flatten", broken)
    (tmp_path / "a.txt").write_text("one\ntwo\n")
    with pytest.raises(PreprocessError, match=r"Preprocessing .*a\.txt failed") as info:
        preprocess(
            [Column(path=tmp_path / "a.txt", encoder=sp_tokenizer.create_encoder())],
            tmp_path / "ds",
            vocab_size=sp_tokenizer.vocab_info.size,
            tokenizer={},
            options=PreprocessOptions(progress=False),
        )
    assert isinstance(info.value.__cause__.__cause__, OSError)  # type: ignore[union-attr]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt"]
