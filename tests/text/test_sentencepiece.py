from __future__ import annotations

import numpy as np
import pytest
import sentencepiece as spm
import torch

from seqkit.text import EncodingModeError, SentencePieceTokenizer, TokenizerLoadError

from .conftest import bible_lines

TEXTS = bible_lines("kjv-rv1909.en", 50, start=1000) + bible_lines("kjv-rv1909.es", 50, 1000)


def test_vocab_info_matches_training_layout(sp_tokenizer: SentencePieceTokenizer) -> None:
    info = sp_tokenizer.vocab_info
    assert (info.size, info.unk_idx, info.bos_idx, info.eos_idx, info.pad_idx) == (400, 0, 1, 2, 3)
    assert [sp_tokenizer.index_to_token(i) for i in sp_tokenizer.language_token_ids()] == [
        "__en__",
        "__es__",
    ]


def test_round_trip_of_unseen_verses(sp_tokenizer: SentencePieceTokenizer) -> None:
    encoder = sp_tokenizer.create_encoder()
    decoder = sp_tokenizer.create_decoder()
    for text in TEXTS:
        ids = encoder(text)
        assert ids.dtype == torch.int64
        assert decoder(ids) == text


def test_batch_encoding_equals_per_line(sp_tokenizer: SentencePieceTokenizer) -> None:
    for mode, lang in [("default", None), ("prompt", None), ("source", "en"), ("target", "es")]:
        encoder = sp_tokenizer.create_encoder(mode=mode, lang=lang, num_threads=2)
        batch = encoder.encode_batch(TEXTS)
        assert len(batch) == len(TEXTS)
        for text, ids in zip(TEXTS, batch):
            assert torch.equal(ids, encoder(text))
        flat = encoder.encode_batch_flat(TEXTS, dtype=np.uint16)
        assert flat.tokens.dtype == np.uint16
        assert np.array_equal(flat.tokens, torch.cat(batch).numpy())
        assert flat.lengths.tolist() == [len(ids) for ids in batch]


def test_decode_batch(sp_tokenizer: SentencePieceTokenizer) -> None:
    encoder = sp_tokenizer.create_encoder(mode="target", lang="es")
    assert sp_tokenizer.create_decoder().decode_batch(encoder.encode_batch(TEXTS)) == TEXTS


def test_special_tokens_per_mode(sp_tokenizer: SentencePieceTokenizer) -> None:
    en = sp_tokenizer.token_to_index("__en__")
    es = sp_tokenizer.token_to_index("__es__")
    body = sp_tokenizer.create_encoder(mode="source").encode_ids("In the beginning")
    cases = {
        ("default", None): [1, *body, 2],
        ("prompt", None): [1, *body],
        ("source", None): [*body, 2],
        ("source", "en"): [en, *body, 2],
        ("target", None): [1, *body, 2],
        ("target", "es"): [1, es, *body, 2],
    }
    for (mode, lang), expected in cases.items():
        encoder = sp_tokenizer.create_encoder(mode=mode, lang=lang)
        assert encoder("In the beginning").tolist() == expected, (mode, lang)
    translation = sp_tokenizer.create_encoder(task="translation", lang="en")
    assert translation("In the beginning").tolist() == cases[("source", "en")]


def test_decoder_drops_special_tokens_unless_asked(sp_tokenizer: SentencePieceTokenizer) -> None:
    ids = sp_tokenizer.create_encoder(mode="target", lang="es")("Dios")
    assert sp_tokenizer.create_decoder()(ids) == "Dios"
    assert "__es__" in sp_tokenizer.create_decoder(skip_special_tokens=False)(ids)


def test_encoder_device_and_pad_tensor(sp_tokenizer: SentencePieceTokenizer) -> None:
    ids = sp_tokenizer.create_encoder(device=torch.device("cpu"))("light")
    assert ids.device == torch.device("cpu")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lang": "de", "mode": "source"}, "__de__"),
        ({"lang": "en"}, "only in modes"),
        ({"mode": "sideways"}, "Unknown encoding mode"),
        ({"task": "summarize"}, "Unknown task"),
        ({"task": "translation", "mode": "prompt"}, "translation"),
    ],
)
def test_bad_encoder_requests_fail_clearly(
    sp_tokenizer: SentencePieceTokenizer, kwargs: dict[str, str], match: str
) -> None:
    with pytest.raises(EncodingModeError, match=match):
        sp_tokenizer.create_encoder(**kwargs)


def test_sampled_encoding_varies_but_decodes_back(sp_tokenizer: SentencePieceTokenizer) -> None:
    spm.set_random_generator_seed(3)
    encoder = sp_tokenizer.create_encoder(enable_sampling=True, alpha=0.5, num_threads=1)
    text = "And God said, Let there be light: and there was light."
    samples = {tuple(encoder(text).tolist()) for _ in range(20)}
    assert len(samples) > 1
    decoder = sp_tokenizer.create_decoder()
    assert all(decoder(list(s)) == text for s in samples)
    batch = encoder.encode_batch([text] * 4)
    assert all(decoder(ids) == text for ids in batch)


def test_unreadable_model_is_reported(tmp_path) -> None:
    bad = tmp_path / "broken.model"
    bad.write_bytes(b"not a protobuf")
    with pytest.raises(TokenizerLoadError, match=r"broken\.model"):
        SentencePieceTokenizer.from_file(bad)
    with pytest.raises(TokenizerLoadError, match="does not exist"):
        SentencePieceTokenizer.from_file(tmp_path / "missing.model")


def test_num_threads_default_and_with_num_threads(sp_tokenizer: SentencePieceTokenizer) -> None:
    from seqkit.text.tokenizer import default_num_threads

    encoder = sp_tokenizer.create_encoder(mode="source", lang="es")
    assert encoder.num_threads == default_num_threads()
    one = encoder.with_num_threads(1)
    assert (one.num_threads, encoder.num_threads) == (1, default_num_threads())
    assert (one.prefix_ids, one.suffix_ids) == (encoder.prefix_ids, encoder.suffix_ids)
    assert one.encode_ids_batch(TEXTS) == encoder.with_num_threads(3).encode_ids_batch(TEXTS)
    assert sp_tokenizer.create_encoder(num_threads=2).num_threads == 2
    with pytest.raises(ValueError, match="at least 1"):
        encoder.with_num_threads(0)


def test_encode_batch_flat_matches_tensors(sp_tokenizer: SentencePieceTokenizer) -> None:
    encoder = sp_tokenizer.create_encoder(mode="target", lang="en")
    flat = encoder.encode_batch_flat(TEXTS, dtype=np.uint16)
    assert flat.tokens.dtype == np.uint16
    rows = np.split(flat.tokens, np.cumsum(flat.lengths)[:-1])
    assert [r.tolist() for r in rows] == [t.tolist() for t in encoder.encode_batch(TEXTS)]
