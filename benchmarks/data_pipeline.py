"""Data-pipeline throughput against baselines measured in the same run.

Workload (a): text lines -> sentencepiece ids (batched encoding, T threads) -> length
filter -> bucket_by_length -> collate to padded int64 tensors, plain and with
shuffle(10k) and/or prefetch(4). Baselines: the ceiling (raw
``sp.encode(batch, num_threads=T)`` over the same lines and batches), the shuffled
ceiling (the same over the lines in the order shuffle(10k, seed=1) yields them, for the
shuffled variants: sentencepiece itself is slower on shuffled text), a plain-Python
generator with numpy padding, and ``torch.utils.data.DataLoader`` with 2 workers.

Rounds interleave every contender, each round in a rotated order, and each ratio is
taken within one round (contender / its baseline in that round); the median and range
over rounds are printed, for wall time and for CPU time of the process (all threads).

Workload (b): read_tokens -> shuffle -> pack(2048) -> bucket -> collate, in GiB/s of
token bytes, against a numpy implementation of the same packing.

The 16k unigram sentencepiece model is trained once on datasets/bible/web.en and cached
under .bench/ (git-ignored). The corpus is web.en repeated into a temporary file.

Usage: ``python benchmarks/data_pipeline.py [--quick] [--threads T] [--corpus-mb MB] [--rounds R]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sentencepiece as spm
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from seqkit.data import read_text, read_tokens, write_tokens

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "datasets" / "bible" / "web.en"
CACHE = ROOT / ".bench"
BATCH = 64
MAX_LEN = 256
# Buckets of BATCH examples each, up to MAX_LEN tokens; longer or empty lines are skipped.
BUCKETS = [(BATCH, n) for n in (16, 32, 48, 64, 96, 128, 192, MAX_LEN)]
SHUFFLE_WINDOW = 10_000
PREFETCH = 4


def train_model() -> Path:
    """Train (once) the 16k unigram model on web.en; cached under .bench/."""
    CACHE.mkdir(exist_ok=True)
    prefix = CACHE / "web_en_unigram16k"
    model = prefix.with_suffix(".model")
    if not model.exists():
        print("training the 16k unigram sentencepiece model (cached under .bench/)...", flush=True)
        spm.SentencePieceTrainer.train(
            input=str(CORPUS),
            model_prefix=str(prefix),
            vocab_size=16000,
            model_type="unigram",
            character_coverage=1.0,
            # web.en alone supports about 13.2k pieces; the trainer stops there.
            hard_vocab_limit=False,
            num_threads=2,
            minloglevel=2,
        )
    return model


def make_corpus(directory: Path, megabytes: float) -> Path:
    """web.en repeated until the file holds ``megabytes`` MB."""
    text = CORPUS.read_bytes()
    path = directory / "corpus.txt"
    repeats = max(1, round(megabytes * 1e6 / len(text)))
    with open(path, "wb") as out:
        for _ in range(repeats):
            out.write(text)
    return path


def timed(fn: Callable[[], int]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds of this process (all its threads), and fn's count."""
    start, cpu = time.perf_counter(), time.process_time()
    n = fn()
    return time.perf_counter() - start, time.process_time() - cpu, n


# ----------------------------------------------------------------------- workload (a)


def ceiling(sp: spm.SentencePieceProcessor, lines: list[str], threads: int) -> int:
    n = 0
    for i in range(0, len(lines), BATCH):
        n += len(sp.encode(lines[i : i + BATCH], num_threads=threads))
    return n


def ceiling_with_reading(sp: spm.SentencePieceProcessor, path: Path, threads: int) -> int:
    """The ceiling plus what a pipeline must also do: read the file and split its lines."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return ceiling(sp, lines, threads)


def shuffled_like_pipeline(path: Path) -> list[str]:
    """The lines in the order ``read_text(path).shuffle(SHUFFLE_WINDOW, seed=1)`` yields."""
    return list(read_text(path).shuffle(SHUFFLE_WINDOW, seed=1).and_return())


def seqkit_text(
    sp: spm.SentencePieceProcessor,
    path: Path,
    threads: int,
    *,
    chunk: int = BATCH,
    shuffle: int = 0,
    prefetch: int = 0,
) -> int:
    def encode(batch: list[str]) -> list[list[int]]:
        return sp.encode(batch, num_threads=threads)  # type: ignore[no-any-return]

    builder = read_text(path)
    if shuffle:
        builder = builder.shuffle(shuffle, seed=1)
    builder = (
        builder.bucket(chunk)
        .map(encode)
        .unbatch()
        .bucket_by_length(BUCKETS, skip_below_min_examples=True, skip_above_max_examples=True)
        .collate(pad_value=0)
    )
    if prefetch:
        builder = builder.prefetch(prefetch)
    pipeline = builder.and_return()
    n = 0
    for batch in pipeline:
        n += batch["seqs"].shape[0]
    skipped = sum(s.get("skipped_short", 0) + s.get("skipped_long", 0) for s in pipeline.stats())
    return n + skipped


def python_batches(
    sp: spm.SentencePieceProcessor, lines: list[str], threads: int
) -> Iterator[dict[str, Any]]:
    """The same workload as a plain generator: encode, filter, bucket, pad with numpy."""
    limits = [n for _, n in BUCKETS]
    buckets: dict[int, list[list[int]]] = {n: [] for n in limits}

    def pad(seqs: list[list[int]]) -> dict[str, Any]:
        lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        out = np.zeros((len(seqs), int(lens.max())), dtype=np.int64)
        for row, s in enumerate(seqs):
            out[row, : len(s)] = s
        return {"seqs": torch.from_numpy(out), "seq_lens": torch.from_numpy(lens)}

    for i in range(0, len(lines), BATCH):
        for ids in sp.encode(lines[i : i + BATCH], num_threads=threads):
            if not 1 <= len(ids) <= MAX_LEN:
                continue
            limit = next(n for n in limits if len(ids) <= n)
            bucket = buckets[limit]
            bucket.append(ids)
            if len(bucket) == BATCH:
                yield pad(bucket)
                buckets[limit] = []
    for bucket in buckets.values():
        if bucket:
            yield pad(bucket)


def python_generator(sp: spm.SentencePieceProcessor, lines: list[str], threads: int) -> int:
    return len(lines) if sum(1 for _ in python_batches(sp, lines, threads)) >= 0 else 0


class _LinesDataset(IterableDataset[dict[str, Any]]):
    def __init__(self, model: Path, lines: list[str]) -> None:
        self.model = str(model)
        self.lines = lines

    def __iter__(self) -> Iterator[dict[str, Any]]:
        info = get_worker_info()
        wid, nw = (info.id, info.num_workers) if info is not None else (0, 1)
        sp = spm.SentencePieceProcessor(model_file=self.model)
        # Each worker takes every nw-th chunk of BATCH lines, single-threaded encoding.
        mine = [
            line
            for start in range(wid * BATCH, len(self.lines), nw * BATCH)
            for line in self.lines[start : start + BATCH]
        ]
        yield from python_batches(sp, mine, 1)


def dataloader(model: Path, lines: list[str]) -> int:
    loader = DataLoader(_LinesDataset(model, lines), batch_size=None, num_workers=2)
    for _ in loader:
        pass
    return len(lines)


# ----------------------------------------------------------------------- workload (b)


def make_token_dataset(sp: spm.SentencePieceProcessor, directory: Path, lines: list[str]) -> Path:
    """Documents of 100 consecutive verses (about a chapter), uint16 ids."""
    ids = sp.encode(lines, num_threads=2)
    docs = [
        np.concatenate([np.asarray(x, dtype=np.int64) for x in ids[i : i + 100]])
        for i in range(0, len(ids), 100)
    ]
    write_tokens(directory / "tokens", docs, dtype="uint16")
    return directory / "tokens"


def seqkit_pack(path: Path, epochs: int, rows: int = 8) -> int:
    pipeline = (
        read_tokens(path)
        .repeat(epochs)
        .shuffle(256, seed=1)
        .pack(2048)
        .bucket(rows)
        .collate()
        .and_return()
    )
    rows = 0
    for batch in pipeline:
        rows += batch["seqs"].shape[0]
    return rows


def numpy_pack(path: Path, epochs: int) -> int:
    """The same packing with numpy over the memory-mapped files (no shuffle window)."""
    tokens = np.memmap(path / "tokens.bin", dtype="<u2", mode="r")
    offsets = np.fromfile(path / "offsets.bin", dtype="<u8")
    rng = np.random.default_rng(1)
    rows = 0
    for _ in range(epochs):
        order = rng.permutation(len(offsets) - 1)
        stream = np.concatenate([tokens[offsets[i] : offsets[i + 1]] for i in order])
        usable = len(stream) // (2048 * 8) * 2048 * 8
        for start in range(0, usable, 2048 * 8):
            batch = torch.from_numpy(stream[start : start + 2048 * 8].astype(np.int64)).view(
                8, 2048
            )
            rows += batch.shape[0]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (about 2 MB)")
    parser.add_argument("--threads", type=int, default=2, help="encoding threads (default 2)")
    parser.add_argument("--corpus-mb", type=float, default=None, help="corpus size (default 24)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 5; quick: 2)")
    args = parser.parse_args()
    args.rounds = args.rounds or (2 if args.quick else 5)
    megabytes = args.corpus_mb or (2.0 if args.quick else 24.0)
    threads = args.threads

    model = train_model()
    sp = spm.SentencePieceProcessor(model_file=str(model))
    print(f"sentencepiece unigram model: {sp.get_piece_size()} pieces (asked for 16000)")
    with tempfile.TemporaryDirectory() as tmp:
        corpus = make_corpus(Path(tmp), megabytes)
        lines = corpus.read_text(encoding="utf-8").splitlines()
        size_mb = corpus.stat().st_size / 1e6
        print(
            f"workload (a): {len(lines)} lines, {size_mb:.1f} MB, batches of {BATCH}, "
            f"{threads} threads, {args.rounds} rotated rounds"
        )

        # sp.encode itself is slower on shuffled lines (less locality), so the shuffled
        # variants are compared with the ceiling over the same lines in the same order.
        shuffled = shuffled_like_pipeline(corpus)
        assert sorted(shuffled) == sorted(lines)
        base, sbase = "ceiling: sp.encode batches", "shuffled ceiling"
        runs: list[tuple[str, str | None, Callable[[], int]]] = [
            (base, None, lambda: ceiling(sp, lines, threads)),
            (sbase, None, lambda: ceiling(sp, shuffled, threads)),
            (
                "sp.encode + reading the file",
                base,
                lambda: ceiling_with_reading(sp, corpus, threads),
            ),
            ("seqkit pipeline", base, lambda: seqkit_text(sp, corpus, threads)),
            (
                f"seqkit + shuffle({SHUFFLE_WINDOW // 1000}k)",
                sbase,
                lambda: seqkit_text(sp, corpus, threads, shuffle=SHUFFLE_WINDOW),
            ),
            (
                f"seqkit + prefetch({PREFETCH})",
                base,
                lambda: seqkit_text(sp, corpus, threads, prefetch=PREFETCH),
            ),
            (
                f"seqkit + shuffle({SHUFFLE_WINDOW // 1000}k) + prefetch({PREFETCH})",
                sbase,
                lambda: seqkit_text(sp, corpus, threads, shuffle=SHUFFLE_WINDOW, prefetch=PREFETCH),
            ),
            ("plain-Python generator", base, lambda: python_generator(sp, lines, threads)),
        ]
        if not args.quick:
            runs.append(("DataLoader(num_workers=2)", base, lambda: dataloader(model, lines)))
        # The machine is shared and noisy: every round runs every contender, starting at a
        # different one each round, and a contender is compared with its baseline from the
        # same round. CPU time (all threads of this process) is the steadier figure;
        # DataLoader workers are other processes, so theirs is not counted.
        # Warm-up: the first encode of a str made by splitlines() also builds its UTF-8
        # cache (77k of web.en's 187k lines are not ASCII); later rounds reuse it.
        ceiling(sp, lines, threads)
        wall: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        cpu: dict[str, list[float]] = {name: [] for name, _, _ in runs}
        for r in range(args.rounds):
            order = runs[r % len(runs) :] + runs[: r % len(runs)]
            for name, _, fn in order:
                seconds, cpu_seconds, n = timed(fn)
                wall[name].append(n / seconds)
                cpu[name].append(n / cpu_seconds)

        def ratios(rates: dict[str, list[float]], name: str, against: str) -> str:
            per_round = [a / b for a, b in zip(rates[name], rates[against], strict=True)]
            med = statistics.median(per_round)
            best = max(rates[name]) / max(rates[against])
            return f"{med:5.2f} [{min(per_round):.2f}-{max(per_round):.2f}] {best:5.2f}"

        print(f"  {'':40s} {'lines/s':>8s}   {'wall x baseline':>22s}   {'CPU x baseline':>22s}")
        spread = "median [range] best"
        print(f"  {'':40s} {'(best)':>8s}   {spread:>22s}   {spread:>22s}")
        for name, against, _ in runs:
            best = max(wall[name])
            if against is None:
                print(f"  {name:40s} {best / 1e3:7.1f}k   {'baseline':>22s}   {'baseline':>22s}")
                continue
            cpu_text = "-" if name.startswith("DataLoader") else ratios(cpu, name, against)
            tag = "shuffled ceiling" if against == sbase else "ceiling"
            print(
                f"  {name:40s} {best / 1e3:7.1f}k   {ratios(wall, name, against):>22s}"
                f"   {cpu_text:>22s}   x {tag}"
            )
        print(
            f"  {'shuffled ceiling vs ceiling':40s} {'':8s}   {ratios(wall, sbase, base):>22s}"
            f"   {ratios(cpu, sbase, base):>22s}"
        )
        print(
            "  median [range]: of the per-round ratios (contender / its baseline in the same"
            " round); best: best round / best round"
        )

        path = make_token_dataset(sp, Path(tmp), lines)
        num_bytes = (path / "tokens.bin").stat().st_size
        # 20 epochs of ~11 MiB: each round runs long enough (~0.1 s) to time steadily.
        epochs = 2 if args.quick else 20
        print(
            f"workload (b): {num_bytes / 2**20:.1f} MiB of uint16 tokens x {epochs} epochs, "
            "shuffle(256 docs), pack(2048), batches of 8"
        )
        results: dict[str, list[float]] = {}
        cpu_results: dict[str, list[float]] = {}
        contenders: list[tuple[str, Callable[[Path, int], int]]] = [
            ("seqkit pipeline", seqkit_pack),
            ("seqkit, batches of 32 rows", lambda p, e: seqkit_pack(p, e, rows=32)),
            ("numpy (no shuffle window)", numpy_pack),
        ]
        for r in range(args.rounds):
            for name, pack in contenders[r % 3 :] + contenders[: r % 3]:
                seconds, cpu_seconds, _ = timed(lambda pack=pack: pack(path, epochs))
                results.setdefault(name, []).append(num_bytes * epochs / seconds / 2**30)
                cpu_results.setdefault(name, []).append(num_bytes * epochs / cpu_seconds / 2**30)
        base_b = statistics.median(results["numpy (no shuffle window)"])
        print(f"  {'':28s} GiB/s of token bytes: median [range] over rounds; per CPU-second")
        for name, gibs in results.items():
            med = statistics.median(gibs)
            cpu_med = statistics.median(cpu_results[name])
            print(
                f"  {name:28s} {med:6.2f} [{min(gibs):.2f}-{max(gibs):.2f}]"
                f"   per CPU-second {cpu_med:6.2f}   {med / base_b:5.2f}x numpy"
            )


if __name__ == "__main__":
    main()
