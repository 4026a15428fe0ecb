"""Preprocess throughput vs raw SentencePiece batch encoding of the same corpus.

Baseline: the corpus already in memory as a list of str, encoded by
``SentencePieceProcessor.encode(lines, num_threads=T)`` in batches of the same size as
preprocessing uses (and, for reference, of 4x that size). Measured: ``seqkit.text.preprocess``
of the same file with the same threads, end to end (native read, bad-line checks, encode,
flatten, write, fsync, manifest, rename). Target: preprocess throughput >= 85% of the
baseline. Runs are interleaved, in an order rotated every repeat, so that load from
other work hits all alike; the report gives best-of-N and the median of per-pair ratios,
for wall clock and for CPU seconds (all threads; less sensitive to other load).

Usage: ``python benchmarks/preprocess.py [--quick] [--threads T] [--copies K] [--batch N]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sentencepiece as spm

from seqkit.text import (
    Column,
    PreprocessOptions,
    SentencePieceTokenizer,
    preprocess,
    train_sentencepiece,
)

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "datasets" / "bible" / "web.en"

Timing = tuple[float, float]
"""(wall seconds, CPU seconds of the process, all threads)."""


def _baseline(sp: spm.SentencePieceProcessor, lines: list[str], threads: int, batch: int) -> Timing:
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(lines), batch):
        sp.encode(lines[i : i + batch], num_threads=threads, add_bos=True, add_eos=True)
    return time.perf_counter() - start, time.process_time() - cpu


def _preprocess(
    tokenizer: SentencePieceTokenizer, corpus: Path, out: Path, threads: int, batch: int
) -> Timing:
    shutil.rmtree(out, ignore_errors=True)
    encoder = tokenizer.create_encoder()
    start, cpu = time.perf_counter(), time.process_time()
    preprocess(
        [Column(path=corpus, encoder=encoder)],
        out,
        vocab_size=tokenizer.vocab_info.size,
        tokenizer={"family": tokenizer.family},
        options=PreprocessOptions(progress=False, chunk_lines=batch, num_threads=threads),
    )
    return time.perf_counter() - start, time.process_time() - cpu


def _ratios(base: list[Timing], prep: list[Timing], k: int) -> tuple[float, float, list[float]]:
    """best-of ratio, median of per-pair ratios, and the per-pair ratios of field ``k``."""
    pairs = [b[k] / p[k] for b, p in zip(base, prep, strict=True)]
    best = min(b[k] for b in base) / min(p[k] for p in prep)
    return best, statistics.median(pairs), pairs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one copy of the corpus, 2 repeats")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--copies", type=int, help="corpus copies (default 4, quick 1)")
    parser.add_argument("--repeats", type=int, help="repeats (default 7, quick 2)")
    parser.add_argument("--batch", type=int, default=16384, help="lines per encode batch")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    copies = args.copies or (1 if args.quick else 4)
    repeats = args.repeats or (2 if args.quick else 7)

    with tempfile.TemporaryDirectory(prefix="seqkit-bench-") as tmp:
        root = Path(tmp)
        text = CORPUS.read_text(encoding="utf-8")
        corpus = root / "corpus.txt"
        corpus.write_text(text * copies, encoding="utf-8")
        trained = train_sentencepiece(
            [CORPUS],
            output_dir=root / "tok",
            vocab_size=args.vocab_size,
            max_sentences=20000,
            num_threads=args.threads,
        )
        tokenizer = SentencePieceTokenizer.from_file(trained.model_path)
        lines = corpus.read_text(encoding="utf-8").splitlines()
        size_mb = corpus.stat().st_size / 1e6
        sp = tokenizer.processor

        runs: dict[str, Callable[[], Timing]] = {
            "base": lambda: _baseline(sp, lines, args.threads, args.batch),
            "prep": lambda: _preprocess(tokenizer, corpus, root / "out", args.threads, args.batch),
            "big": lambda: _baseline(sp, lines, args.threads, 4 * args.batch),
        }
        times: dict[str, list[Timing]] = {name: [] for name in runs}
        order = list(runs)
        for repeat in range(repeats):
            # Rotate the order so that no run always follows the same one (cache, memory
            # and frequency effects of the previous run then hit each alike).
            for name in order[repeat % 3 :] + order[: repeat % 3]:
                times[name].append(runs[name]())
        base, big, prep = times["base"], times["big"], times["prep"]

    print(
        f"corpus: {len(lines)} lines, {size_mb:.1f} MB; vocab {args.vocab_size}; "
        f"threads {args.threads}; batches of {args.batch} lines; {repeats} rotated repeats"
    )
    for name, runs in (
        (f"raw sentencepiece, {args.batch}-line batches", base),
        (f"raw sentencepiece, {4 * args.batch}-line batches", big),
        ("seqkit data preprocess", prep),
    ):
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"{name:42s} best {wall:.3f} s wall ({size_mb / wall:.1f} MB/s), {cpu:.3f} s CPU")
    for label, reference in (("same batches", base), ("4x batches", big)):
        for k, what in ((0, "wall"), (1, "CPU ")):
            best, median, pairs = _ratios(reference, prep, k)
            print(
                f"preprocess/raw ({label}) {what}: best-of {best:.2f}, median {median:.2f} "
                f"(pairs {', '.join(f'{r:.2f}' for r in pairs)}); target >= 0.85"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
