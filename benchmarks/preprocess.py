"""Preprocess throughput vs raw SentencePiece batch encoding of the same corpus.

Baseline: the corpus already in memory as a list of str, encoded by
``SentencePieceProcessor.encode(lines, num_threads=T)`` in batches of the same size as
preprocessing uses. Measured: ``seqkit.text.preprocess`` of the same file with the same
threads, end to end (read, UTF-8 checks, encode, write, fsync, manifest, rename).
Target: preprocess throughput >= 85% of the baseline. Best of N interleaved repeats.

Usage: ``python benchmarks/preprocess.py [--quick] [--threads T] [--copies K]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
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
CHUNK = 16384


def _baseline(
    sp: spm.SentencePieceProcessor, lines: list[str], threads: int
) -> tuple[float, float]:
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(lines), CHUNK):
        sp.encode(lines[i : i + CHUNK], num_threads=threads, add_bos=True, add_eos=True)
    return time.perf_counter() - start, time.process_time() - cpu


def _preprocess(
    tokenizer: SentencePieceTokenizer, corpus: Path, out: Path, threads: int
) -> tuple[float, float]:
    shutil.rmtree(out, ignore_errors=True)
    encoder = tokenizer.create_encoder(num_threads=threads)
    start, cpu = time.perf_counter(), time.process_time()
    preprocess(
        [Column(path=corpus, encoder=encoder)],
        out,
        vocab_size=tokenizer.vocab_info.size,
        tokenizer={"family": tokenizer.family},
        options=PreprocessOptions(progress=False, chunk_lines=CHUNK),
    )
    return time.perf_counter() - start, time.process_time() - cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one copy of the corpus, 2 repeats")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--copies", type=int, help="corpus copies (default 4, quick 1)")
    parser.add_argument("--repeats", type=int, help="repeats (default 5, quick 2)")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    copies = args.copies or (1 if args.quick else 4)
    repeats = args.repeats or (2 if args.quick else 5)

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

        base, prep = [], []
        for _ in range(repeats):
            base.append(_baseline(tokenizer.processor, lines, args.threads))
            prep.append(_preprocess(tokenizer, corpus, root / "out", args.threads))

    (best_base, base_cpu), (best_prep, prep_cpu) = min(base), min(prep)
    print(
        f"corpus: {len(lines)} lines, {size_mb:.1f} MB; vocab {args.vocab_size}; "
        f"threads {args.threads}; best of {repeats}"
    )
    print(
        f"raw sentencepiece batch encode: {best_base:.3f} s "
        f"({len(lines) / best_base:,.0f} lines/s, {size_mb / best_base:.1f} MB/s)"
    )
    print(
        f"seqkit data preprocess:         {best_prep:.3f} s "
        f"({len(lines) / best_prep:,.0f} lines/s, {size_mb / best_prep:.1f} MB/s)"
    )
    ratio = best_base / best_prep
    print(f"throughput ratio preprocess/raw: {ratio:.2f} (target >= 0.85)")
    # CPU seconds (all threads) are less sensitive to other load on a shared machine.
    print(
        f"cpu seconds raw {base_cpu:.2f}, preprocess {prep_cpu:.2f}: "
        f"ratio {base_cpu / prep_cpu:.2f}; all wall ratios "
        f"{', '.join(f'{b[0] / p[0]:.2f}' for b, p in zip(base, prep))}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
