"""``flatten`` (joining a batch encoder's rows with their prefix and suffix tokens) and the
encoders' batch form for ``DataPipelineBuilder.map``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data import read_text
from seqkit.text import SentencePieceTokenizer
from seqkit.text.sentencepiece import SentencePieceEncoder
from seqkit.text.tokenizer import FlatEncoding, flatten


@pytest.mark.parametrize(
    "batch",
    [
        [[5, 6], [], [7]],  # lists of ints: the C++ path
        [(5, 6), (), (7,)],  # tuples (a third-party encoder): numpy
        [np.array([5, 6]), np.array([], dtype=np.int64), np.array([7])],
        [[np.int64(5), np.int64(6)], [], [np.int64(7)]],  # numpy ints in lists
        ((5, 6), (), (7,)),  # not a list at all
    ],
)
@pytest.mark.parametrize("dtype", [np.int64, np.uint16])
def test_every_kind_of_row_gives_the_same_encoding(batch: object, dtype: type) -> None:
    flat = flatten(batch, prefix=[1], suffix=[2], dtype=dtype)  # type: ignore[arg-type]
    assert flat.tokens.dtype == np.dtype(dtype)
    assert flat.tokens.tolist() == [1, 5, 6, 2, 1, 2, 1, 7, 2]
    assert flat.lengths.tolist() == [4, 2, 3]


# ``TextTokenEncoder.__seqkit_map_batch__``: what ``DataPipelineBuilder.map`` calls once per
# chunk of lines; it must give exactly ``encoder(text)`` for every text.

_TEXTS = ["In the beginning God created the heaven and the earth.", "", "  ", "Él dijo: ¡sí!"]


@pytest.mark.parametrize("kwargs", [{}, {"mode": "target", "lang": "es"}, {"mode": "source"}])
@pytest.mark.parametrize("num_parallel_calls", [1, 2, 8])
def test_encoder_batch_form_equals_per_text_calls(
    sp_tokenizer: SentencePieceTokenizer, kwargs: dict[str, str], num_parallel_calls: int
) -> None:
    from tests.text.conftest import bible_lines

    texts = _TEXTS + bible_lines("web.en", 200)
    encoder = sp_tokenizer.create_encoder(**kwargs)  # type: ignore[arg-type]
    flat = encoder.__seqkit_map_batch__(texts, num_parallel_calls)
    assert isinstance(flat, FlatEncoding)
    rows = np.split(flat.tokens, np.cumsum(flat.lengths)[:-1])
    assert len(rows) == len(texts)
    for text, row in zip(texts, rows, strict=True):
        assert row.dtype == np.int64
        assert row.tolist() == encoder(text).tolist()


@pytest.mark.parametrize("num_parallel_calls", [1, 2])
def test_encoder_in_map_gives_exactly_the_per_text_tensors(
    sp_tokenizer: SentencePieceTokenizer, num_parallel_calls: int, tmp_path: Path
) -> None:
    from tests.text.conftest import bible_lines

    texts = _TEXTS + bible_lines("web.en", 1500)
    path = tmp_path / "lines.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    for device in (None, torch.device("cpu")):
        encoder = sp_tokenizer.create_encoder(mode="target", lang="es", device=device)
        got = list(read_text(path).map(encoder, num_parallel_calls=num_parallel_calls).and_return())
        assert len(got) == len(texts)
        for text, tensor in zip(texts, got, strict=True):
            expected = encoder(text)
            assert isinstance(tensor, torch.Tensor)
            assert tensor.dtype == torch.int64
            assert tensor.dim() == 1
            assert torch.equal(tensor, expected)


def test_encoder_batch_form_splits_threads_over_parallel_calls(
    sp_tokenizer: SentencePieceTokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    encoder = sp_tokenizer.create_encoder(num_threads=4)
    original = type(encoder).encode_ids_batch

    def spy(self: SentencePieceEncoder, texts: Sequence[str]) -> list[list[int]]:
        seen.append(self.num_threads)
        return original(self, texts)

    monkeypatch.setattr(type(encoder), "encode_ids_batch", spy)
    for calls in (1, 2, 3, 4, 16):
        encoder.__seqkit_map_batch__(["a b c"], calls)
    assert seen == [4, 2, 1, 1, 1]
    assert encoder.num_threads == 4
