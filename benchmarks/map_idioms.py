"""The idioms a fairseq2 user writes first, against baselines measured in the same run.

Workload (a), as in data_pipeline.py (English text -> sentencepiece ids -> drop examples
over 256 tokens -> batches of 64 -> pad), written three ways:

* the idiom: ``read_text -> map(tokenizer.create_encoder(), num_parallel_calls=N) ->
  filter(len <= 256) -> bucket(64) -> collate`` (the encoder's batch form does the work);
* the batched form: ``read_text -> bucket(1024) -> map(sp.encode(lines, num_threads=2))
  -> unbatch -> filter -> bucket(64) -> collate``;
* the idiom with the length filter done natively: ``bucket_by_length([(64, 256)],
  skip_above_max_examples=True)`` in place of ``filter + bucket`` (same batches);
* the ceiling: raw ``sp.encode(lines, num_threads=2)`` over the already-split lines in
  batches of 1024 (no reading, filtering, batching or padding).

Workload (c): a plain Python callable, ``sp.encode`` of one line, in
``read_sequence(lines).map(sp.encode, num_parallel_calls=N)`` against a plain Python loop
making the same calls over the same list.

Rounds interleave every contender, each round in a rotated order; each ratio is taken
within one round (contender rate / baseline rate: above 1 is faster than the baseline),
and the median and range over rounds are printed, for wall time and for CPU time of the
process (all its threads, the steadier figure on a shared machine).

Usage: ``python benchmarks/map_idioms.py [--quick] [--corpus-mb MB] [--rounds R]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import sentencepiece as spm
import torch

from data_pipeline import BATCH, MAX_LEN, make_corpus, timed, train_model
from seqkit.data import read_sequence, read_text
from seqkit.text.sentencepiece import SentencePieceTokenizer

CHUNK = 1024
THREADS = 2


def ceiling(sp: spm.SentencePieceProcessor, lines: list[str]) -> int:
    n = 0
    for i in range(0, len(lines), CHUNK):
        n += len(sp.encode(lines[i : i + CHUNK], num_threads=THREADS))
    return n


def short_enough(ids: torch.Tensor | list[int]) -> bool:
    return len(ids) <= MAX_LEN


def consume_batches(pipeline: object) -> int:
    n = 0
    for batch in pipeline:  # type: ignore[attr-defined]
        n += batch["seqs"].shape[0]
    return n


def idiom(
    tokenizer: SentencePieceTokenizer, path: Path, parallel: int, *, native_filter: bool = False
) -> int:
    encoder = tokenizer.create_encoder()
    builder = read_text(path).map(encoder, num_parallel_calls=parallel)
    if native_filter:
        # One bucket of BATCH up to MAX_LEN tokens: the same batches as filter + bucket,
        # without a Python call (and a tensor made for it) per example.
        builder = builder.bucket_by_length([(BATCH, MAX_LEN)], skip_above_max_examples=True)
    else:
        builder = builder.filter(short_enough).bucket(BATCH)
    return consume_batches(builder.collate(pad_value=0).and_return())


def batched(sp: spm.SentencePieceProcessor, path: Path) -> int:
    def encode(lines: list[str]) -> list[list[int]]:
        return sp.encode(lines, num_threads=THREADS)  # type: ignore[no-any-return]

    pipeline = (
        read_text(path)
        .bucket(CHUNK)
        .map(encode)
        .unbatch()
        .filter(short_enough)
        .bucket(BATCH)
        .collate(pad_value=0)
        .and_return()
    )
    return consume_batches(pipeline)


def plain_loop(sp: spm.SentencePieceProcessor, lines: list[str]) -> int:
    n = 0
    for line in lines:
        n += len(sp.encode(line)) >= 0
    return n


def plain_map(sp: spm.SentencePieceProcessor, lines: list[str], parallel: int) -> int:
    n = 0
    for ids in read_sequence(lines).map(sp.encode, num_parallel_calls=parallel).and_return():
        n += len(ids) >= 0
    return n


Run = tuple[str, list[str], Callable[[], int]]


def measure(runs: list[Run], rounds: int) -> None:
    """Rotated rounds; prints best rate and per-round ratios against each baseline."""
    wall: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs}
    for r in range(rounds):
        order = runs[r % len(runs) :] + runs[: r % len(runs)]
        for name, _, fn in order:
            seconds, cpu_seconds, n = timed(fn)
            wall[name].append(n / seconds)
            cpu[name].append(n / cpu_seconds)

    def ratios(rates: dict[str, list[float]], name: str, against: str) -> str:
        per_round = [a / b for a, b in zip(rates[name], rates[against], strict=True)]
        med = statistics.median(per_round)
        return f"{med:5.2f} [{min(per_round):.2f}-{max(per_round):.2f}]"

    print(f"  {'':46s} {'lines/s':>8s}  {'wall x baseline':>17s}  {'CPU x baseline':>17s}")
    for name, baselines, _ in runs:
        label, best = name, f"{max(wall[name]) / 1e3:7.1f}k"
        if not baselines:
            print(f"  {label:46s} {best}  {'baseline':>17s}  {'baseline':>17s}")
        for against in baselines:
            print(
                f"  {label:46s} {best:>8s}  {ratios(wall, name, against):>17s}"
                f"  {ratios(cpu, name, against):>17s}  x {against}"
            )
            label, best = "", ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one copy of web.en, 2 rounds")
    parser.add_argument("--corpus-mb", type=float, default=None, help="corpus size (default 12)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 7; quick: 2)")
    args = parser.parse_args()
    rounds = args.rounds or (2 if args.quick else 7)
    megabytes = args.corpus_mb or (1.0 if args.quick else 12.0)

    model = train_model()
    sp = spm.SentencePieceProcessor(model_file=str(model))
    tokenizer = SentencePieceTokenizer.from_file(model)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp), megabytes)
        lines = corpus.read_text(encoding="utf-8").splitlines()
        print(
            f"workload (a): {len(lines)} lines, {corpus.stat().st_size / 1e6:.1f} MB, "
            f"drop > {MAX_LEN} tokens, batches of {BATCH}, {THREADS} threads, "
            f"{rounds} rotated rounds; median [range] of per-round ratios (above 1: faster)"
        )
        ceil, batch = "ceiling", "batched form"
        # The first encode of a line also fills its str's UTF-8 cache; later rounds reuse it.
        ceiling(sp, lines)
        measure(
            [
                (ceil, [], lambda: ceiling(sp, lines)),
                (batch, [ceil], lambda: batched(sp, corpus)),
                ("idiom, num_parallel_calls=2", [ceil, batch], lambda: idiom(tokenizer, corpus, 2)),
                ("idiom, num_parallel_calls=1", [ceil, batch], lambda: idiom(tokenizer, corpus, 1)),
                (
                    "idiom, N=2, length filter in bucket_by_length",
                    [ceil],
                    lambda: idiom(tokenizer, corpus, 2, native_filter=True),
                ),
            ],
            rounds,
        )
        # About 60k lines, as in the issue; fewer in a quick run.
        few = lines[: min(len(lines), 60_000 if not args.quick else 5_000)]
        print(f"workload (c): sp.encode per line, {len(few)} lines, {rounds} rotated rounds")
        loop = "plain Python loop"
        measure(
            [
                (loop, [], lambda: plain_loop(sp, few)),
                ("map(sp.encode, num_parallel_calls=2)", [loop], lambda: plain_map(sp, few, 2)),
                ("map(sp.encode, num_parallel_calls=1)", [loop], lambda: plain_map(sp, few, 1)),
            ],
            rounds,
        )


if __name__ == "__main__":
    main()
