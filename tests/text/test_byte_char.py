from __future__ import annotations

import pytest

from seqkit.text import ByteTokenizer, CharTokenizer, TokenizerLoadError

from .conftest import bible_lines

TEXTS = [*bible_lines("kjv-rv1909.es", 20), "emoji 🙂 and ünïcödé", ""]


def test_byte_round_trip_and_layout() -> None:
    tokenizer = ByteTokenizer()
    assert tokenizer.vocab_info.size == 260
    encoder, decoder = tokenizer.create_encoder(), tokenizer.create_decoder()
    assert encoder("hé").tolist() == [1, ord("h") + 4, 0xC3 + 4, 0xA9 + 4, 2]
    for text in TEXTS:
        assert decoder(encoder(text)) == text
    assert [t.tolist() for t in encoder.encode_batch(TEXTS)] == [encoder(t).tolist() for t in TEXTS]


def test_byte_decoder_replaces_invalid_utf8() -> None:
    assert ByteTokenizer().create_decoder()([0xFF + 4, ord("a") + 4]) == "\ufffda"


def test_char_code_points_round_trip() -> None:
    tokenizer = CharTokenizer()
    encoder, decoder = tokenizer.create_encoder(mode="prompt"), tokenizer.create_decoder()
    assert encoder("ab").tolist() == [1, ord("a") + 4, ord("b") + 4]
    for text in TEXTS:
        assert decoder(encoder(text)) == text
    assert tokenizer.vocab_info.size == 0x110000 + 4


def test_char_alphabet_saved_and_loaded(tmp_path) -> None:
    tokenizer = CharTokenizer.from_texts(TEXTS[:20])
    path = tmp_path / "bible.chars.json"
    tokenizer.save(path)
    loaded = CharTokenizer.from_file(path)
    assert loaded.vocab_info == tokenizer.vocab_info
    encoder = loaded.create_encoder()
    assert loaded.create_decoder()(encoder(TEXTS[0])) == TEXTS[0]
    # A character outside the alphabet becomes <unk>, decoded as U+FFFD.
    assert loaded.create_decoder()(encoder("Dios 🙂")) == "Dios \ufffd"


def test_char_bad_alphabet_file(tmp_path) -> None:
    path = tmp_path / "x.chars.json"
    path.write_text('{"format": "seqkit.chars", "alphabet": ["a", "a"]}')
    with pytest.raises(TokenizerLoadError, match="distinct"):
        CharTokenizer.from_file(path)
    path.write_text("[1, 2]")
    with pytest.raises(TokenizerLoadError, match="not a character alphabet"):
        CharTokenizer.from_file(path)
