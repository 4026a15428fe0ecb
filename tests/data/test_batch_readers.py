"""The training readers: plans, native gathers, sharding, resume on any world size."""

from __future__ import annotations

import itertools
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from seqkit.data import (
    DataPipelineError,
    DataReadError,
    NotEnoughDataError,
    PackedBatch,
    PairBatch,
    ReaderOptions,
    TokenDataset,
    TokenWriter,
    lm_reader,
    masked_reader,
    pair_reader,
    read_sequence,
    write_tokens,
)


def _docs(seed: int, n: int, low: int = 1, high: int = 40) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(3, 500, int(rng.integers(low, high))) for _ in range(n)]


@pytest.fixture
def lm_dataset(tmp_path: Path) -> TokenDataset:
    write_tokens(tmp_path / "lm", _docs(0, 300))
    return TokenDataset.open(tmp_path / "lm")


@pytest.fixture
def mt_dataset(tmp_path: Path) -> TokenDataset:
    return TokenDataset.open(_parallel(tmp_path / "mt", 400, seed=1))


def _parallel(path: Path, n: int, seed: int) -> Path:
    src, tgt = _docs(seed, n), _docs(seed + 100, n)
    with TokenWriter(path, columns=("source", "target")) as w:
        for s, t in zip(src, tgt, strict=True):
            w.write(s, np.array([len(s)]), column="source")
            w.write(t, np.array([len(t)]), column="target")
    return path


def _rows(batch: PackedBatch) -> list[tuple[int, ...]]:
    full = torch.cat([batch.seqs, batch.targets[:, -1:]], dim=1)
    return [tuple(r) for r in full.tolist()]


def test_windows_cover_every_token_once_with_document_boundaries(lm_dataset: TokenDataset) -> None:
    seq_len = 16
    col = lm_dataset.column("")
    tokens = np.asarray(col.tokens, dtype=np.int64)
    starts = set(np.asarray(col.offsets).tolist())
    reader = lm_reader([lm_dataset], seq_len=seq_len, batch_size=4, options=ReaderOptions(seed=3))
    seen = []
    for batch in reader:
        assert batch.seqs.shape == (4, seq_len)
        assert torch.equal(batch.seqs[:, 1:], batch.targets[:, :-1])
        for row, pieces in zip(_rows(batch), batch.doc_lens, strict=True):
            begin = int(np.flatnonzero(tokens[::seq_len][: len(tokens) // seq_len] == row[0])[0])
            seen.append(row)
            assert sum(pieces) == seq_len
            del begin
    # Windows are distinct slices of the stream; their input parts never overlap.
    assert len(set(seen)) == len(seen)
    windows = (len(tokens) - 1) // seq_len
    assert len(seen) == windows - windows % 4
    # The document pieces of window w match the offsets.
    batch = next(iter(lm_reader([lm_dataset], seq_len=seq_len, batch_size=1,
                                options=ReaderOptions(shuffle=False))))  # fmt: skip
    cuts = [0] + [s for s in sorted(starts) if 0 < s < seq_len] + [seq_len]
    assert batch.doc_lens[0] == [b - a for a, b in itertools.pairwise(cuts) if b > a]
    assert batch.seqs[0].tolist() == tokens[:seq_len].tolist()


def test_ranks_read_disjoint_equal_shares(mt_dataset: TokenDataset) -> None:
    def ids_of(rank: int, world: int) -> list[tuple[int, ...]]:
        opts = ReaderOptions(seed=5, rank=rank, world_size=world)
        reader = pair_reader([mt_dataset], pad_idx=0, max_num_tokens=300, options=opts)
        return [tuple(b.source[:, 0].tolist()) + tuple(b.source_lens.tolist()) for b in reader]

    shares = [ids_of(r, 3) for r in range(3)]
    assert len({len(s) for s in shares}) == 1
    single = ids_of(0, 1)
    union = [b for s in shares for b in s]
    assert len(set(union)) == len(union)
    assert set(union) <= set(single)
    assert len(single) - len(union) < 3  # only the incomplete last group of 3 is left


def test_token_budget_is_never_exceeded_and_packs_tightly(mt_dataset: TokenDataset) -> None:
    budget = 400
    reader = pair_reader([mt_dataset], pad_idx=0, max_num_tokens=budget, options=ReaderOptions())
    fixed = pair_reader([mt_dataset], pad_idx=0, batch_size=8, options=ReaderOptions())
    for batch in reader:
        padded = batch.source.shape[0] * (batch.source.shape[1] + batch.target_in.shape[1] + 1)
        assert padded <= budget
    plan, fixed_plan = reader.plan(), fixed.plan()
    assert plan.padding_efficiency is not None
    assert fixed_plan.padding_efficiency is not None
    assert plan.padding_efficiency > fixed_plan.padding_efficiency
    # Every pair is planned exactly once.
    assert sorted(plan.ids.tolist()) == list(range(mt_dataset.num_documents))


def test_pairs_and_masks_match_a_python_collate(tmp_path: Path, mt_dataset: TokenDataset) -> None:
    reader = pair_reader([mt_dataset], pad_idx=-1, batch_size=5, options=ReaderOptions(seed=2))
    batch: PairBatch = next(iter(reader))
    _, ids = reader.plan().batch(0)
    src, tgt = mt_dataset.column("source"), mt_dataset.column("target")
    for r, i in enumerate(ids.tolist()):
        s = np.asarray(src.tokens[src.offsets[i] : src.offsets[i + 1]]).tolist()
        t = np.asarray(tgt.tokens[tgt.offsets[i] : tgt.offsets[i + 1]]).tolist()
        assert batch.source[r, : len(s)].tolist() == s
        assert (batch.source[r, len(s) :] == -1).all()
        assert batch.target_in[r, : len(t) - 1].tolist() == t[:-1]
        assert batch.target_out[r, : len(t) - 1].tolist() == t[1:]
        assert int(batch.target_lens[r]) == len(t) - 1
    with TokenWriter(tmp_path / "sft", columns=("tokens", "target_mask")) as w:
        w.write(np.array([1, 5, 6, 2, 1, 7, 2]), np.array([4, 3]), column="tokens")
        w.write(np.array([0, 0, 1, 1, 0, 1, 1]), np.array([4, 3]), column="target_mask")
    sft = TokenDataset.open(tmp_path / "sft", columns=["tokens", "target_mask"])
    masked = masked_reader([sft], pad_idx=0, batch_size=2, options=ReaderOptions(shuffle=False))
    m = next(iter(masked))
    # Past seq_lens a row holds padding or its own last token; both are masked.
    assert m.seqs.tolist() == [[1, 5, 6], [1, 7, 2]]
    assert m.targets.tolist() == [[5, 6, 2], [7, 2, 0]]
    assert m.loss_mask.tolist() == [[False, True, True], [True, True, False]]
    assert m.seq_lens.tolist() == [3, 2]
    assert m.num_targets == 4


def _take(reader: object, n: int) -> list[list[int]]:
    out = []
    for batch in itertools.islice(iter(reader), n):  # type: ignore[call-overload]
        out.append(batch.source_lens.tolist() + batch.source[:, 0].tolist())
    return out


@pytest.mark.parametrize("stop", [0, 1, 7, 19])
def test_resume_is_exact_on_the_same_world_size(mt_dataset: TokenDataset, stop: int) -> None:
    def make() -> object:
        return pair_reader(
            [mt_dataset], pad_idx=0, max_num_tokens=300, options=ReaderOptions(seed=9)
        )

    full = make()
    expected = []
    for _ in range(2):  # two epochs
        expected += [b.source.tolist() for b in full]  # type: ignore[attr-defined]
        full.reset()  # type: ignore[attr-defined]
    first = make()
    got = [b.source.tolist() for b in itertools.islice(iter(first), stop)]  # type: ignore[call-overload]
    state = first.state_dict()  # type: ignore[attr-defined]
    resumed = make()
    resumed.load_state_dict(state)  # type: ignore[attr-defined]
    got += [b.source.tolist() for b in resumed]  # type: ignore[attr-defined]
    resumed.reset()  # type: ignore[attr-defined]
    got += [b.source.tolist() for b in resumed]  # type: ignore[attr-defined]
    assert got == expected


@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2), (2, 3)])
def test_resume_on_another_world_size_reads_every_batch_once(
    lm_dataset: TokenDataset, before: int, after: int
) -> None:
    def readers(world: int) -> list[object]:
        return [
            lm_reader(
                [lm_dataset],
                seq_len=8,
                batch_size=2,
                options=ReaderOptions(seed=4, rank=r, world_size=world),
            )
            for r in range(world)
        ]

    first = readers(before)
    its = [iter(r) for r in first]  # type: ignore[call-overload]
    seen: list[tuple[int, ...]] = []
    for _ in range(5):  # five steps on `before` ranks
        for it in its:
            seen += _rows(next(it))
    state = first[0].global_state_dict()  # type: ignore[attr-defined]
    second = readers(after)
    for r in second:
        r.load_global_state_dict(state)  # type: ignore[attr-defined]
    for r in second:
        for batch in r:  # type: ignore[attr-defined]
            seen += _rows(batch)
    counts = Counter(seen)
    assert max(counts.values()) == 1
    total = len(lm_reader([lm_dataset], seq_len=8, batch_size=2, options=ReaderOptions()).plan())
    assert len(seen) >= (total - after) * 2


def test_mixture_follows_the_weights(tmp_path: Path) -> None:
    write_tokens(tmp_path / "a", _docs(1, 400))
    write_tokens(tmp_path / "b", _docs(2, 400))
    datasets = [TokenDataset.open(tmp_path / n) for n in "ab"]
    reader = lm_reader(datasets, seq_len=8, batch_size=2,
                       options=ReaderOptions(seed=1, weights=[3.0, 1.0]))  # fmt: skip
    plan = reader.plan()
    share = float(np.mean(plan.datasets() == 0))
    assert 0.70 < share < 0.80
    unweighted = lm_reader(datasets, seq_len=8, batch_size=2, options=ReaderOptions(seed=1)).plan()
    per_dataset = Counter(unweighted.datasets().tolist())
    assert per_dataset[0] > 0
    assert per_dataset[1] > 0
    assert len(set(unweighted.order.tolist())) == len(unweighted)


def test_validation_reads_every_example_with_equal_batches_per_rank(
    mt_dataset: TokenDataset,
) -> None:
    world = 3
    readers = [
        pair_reader(
            [mt_dataset],
            pad_idx=0,
            batch_size=7,
            options=ReaderOptions(shuffle=False, rank=r, world_size=world),
        )
        for r in range(world)
    ]
    counts = [sum(1 for _ in r) for r in readers]
    assert len(set(counts)) == 1
    plan = readers[0].plan()
    ids = np.concatenate([plan.batch(b)[1] for b in range(len(plan))])
    assert sorted(ids.tolist()) == list(range(mt_dataset.num_documents))


def test_bad_datasets_give_clear_errors(tmp_path: Path, lm_dataset: TokenDataset) -> None:
    with pytest.raises(DataReadError, match="does not exist"):
        TokenDataset.open(tmp_path / "missing")
    write_tokens(tmp_path / "cut", _docs(0, 20))
    tokens = tmp_path / "cut" / "tokens.bin"
    tokens.write_bytes(tokens.read_bytes()[:-4])
    with pytest.raises(DataReadError, match=r"tokens\.bin.*truncated or corrupt"):
        TokenDataset.open(tmp_path / "cut")
    with pytest.raises(DataReadError, match=r"holds token id 499.*100 ids"):
        lm_dataset.check_vocabulary(100)
    lm_dataset.check_vocabulary(500)
    small = pair_reader([TokenDataset.open(_parallel(tmp_path / "small", 3, seed=0))], pad_idx=0,
                        batch_size=2, options=ReaderOptions(rank=1, world_size=2))  # fmt: skip
    with pytest.raises(NotEnoughDataError, match="fewer than the 2 rank"):
        small.plan()
    bad = TokenDataset.open(tmp_path / "small")
    with pytest.raises(DataReadError, match="no column 'tokens'"):
        bad.column("tokens")


def test_a_dataset_made_with_another_tokenizer_of_the_same_size(tmp_path: Path) -> None:
    write_tokens(tmp_path / "ds", _docs(3, 10))
    (tmp_path / "ds" / "manifest.json").write_text('{"tokenizer": {"sha256": "' + "a" * 64 + '"}}')
    dataset = TokenDataset.open(tmp_path / "ds")
    dataset.check_vocabulary(1000, tokenizer_sha256="a" * 64)
    dataset.check_vocabulary(1000)  # nothing to compare: the ids fit
    with pytest.raises(DataReadError, match="made with another tokenizer"):
        dataset.check_vocabulary(1000, tokenizer_sha256="b" * 64)


def test_a_malformed_plan_is_refused_by_the_native_gather(lm_dataset: TokenDataset) -> None:
    from seqkit import _native

    col = lm_dataset.column("")
    columns = [[(col.tokens, col.offsets)]]
    ids = np.arange(8, dtype=np.int32)
    bounds = np.array([0, 4, 8], dtype=np.int64)
    starts = np.array([0, 2], dtype=np.int64)
    good = _native.PlannedGather("windows", columns, [], 4, ids, bounds, starts, np.array([1, 0]))
    assert good.num_batches == 2
    with pytest.raises(ValueError, match="order names a batch"):
        _native.PlannedGather("windows", columns, [], 4, ids, bounds, starts, np.array([2]))
    bad = np.array([0, 9, 8], dtype=np.int64)
    with pytest.raises(ValueError, match="bounds must rise"):
        _native.PlannedGather("windows", columns, [], 4, ids, bad, starts, np.array([0]))
    with pytest.raises(ValueError, match="kind must be"):
        _native.PlannedGather("rows", columns, [], 4, ids, bounds, starts, np.array([0]))
    huge = np.array([10**9], dtype=np.int32)
    far = _native.PlannedGather("windows", columns, [], 4, huge, np.array([0, 1]),
                                np.array([0, 1]), np.array([0]))  # fmt: skip
    pipeline = read_sequence([0]).map(far).and_return()
    with pytest.raises(DataPipelineError, match="past the end"):
        next(iter(pipeline))
