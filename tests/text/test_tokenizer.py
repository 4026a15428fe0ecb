"""``flatten``: joining a batch encoder's rows with their prefix and suffix tokens."""

from __future__ import annotations

import numpy as np
import pytest

from seqkit.text.tokenizer import flatten


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
