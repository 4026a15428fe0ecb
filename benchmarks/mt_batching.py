"""MT batching: padding efficiency and reader throughput on the bundled parallel corpus.

The bundled KJV/RV1909 verses (datasets/bible) are tokenized with a joint 8k unigram
SentencePiece model trained in this run, then batched three ways over the same pairs:

- fixed count (``train.batch_size``, what the recipes did before token budgets);
- fixed length buckets (``bucket_by_length`` with a bucket every 8 tokens, sized to the
  same budget), the grid fairseq2 recipes use;
- token budget (``train.max_num_tokens``: sort by length, greedy cut, shuffle batches).

Padding efficiency is real tokens / padded tokens over source and target together. The
reader rate is batches per second of :func:`seqkit.data.pair_reader` (native gather and
padding) against the same batches padded by a Python loop over token lists (the old
recipes' collate), measured in the same run.

Usage: ``python benchmarks/mt_batching.py [--quick]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch

from seqkit.data import ReaderOptions, TokenDataset, TokenWriter, pair_reader, read_sequence

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO / "datasets" / "bible" / "kjv-rv1909"


def build_dataset(tmp: Path, num_pairs: int) -> TokenDataset:
    src = CORPUS.with_suffix(".en").read_text(encoding="utf-8").splitlines()[:num_pairs]
    tgt = CORPUS.with_suffix(".es").read_text(encoding="utf-8").splitlines()[:num_pairs]
    joint = tmp / "joint.txt"
    joint.write_text("\n".join(src + tgt) + "\n", encoding="utf-8")
    vocab = 8000 if num_pairs > 5000 else 1000
    spm.SentencePieceTrainer.train(
        input=str(joint), model_prefix=str(tmp / "spm"), vocab_size=vocab,
        model_type="unigram", minloglevel=2,
    )  # fmt: skip
    sp = spm.SentencePieceProcessor(model_file=str(tmp / "spm.model"))
    with TokenWriter(tmp / "mt", columns=("source", "target")) as writer:
        for column, lines in (("source", src), ("target", tgt)):
            ids = [[*row, 2] for row in sp.encode(lines)]
            flat = np.concatenate([np.asarray(r, dtype=np.int64) for r in ids])
            writer.write(flat, np.asarray([len(r) for r in ids], dtype=np.int64), column=column)
    return TokenDataset.open(tmp / "mt")


def bucket_efficiency(src: np.ndarray, tgt: np.ndarray, budget: int, seed: int) -> float:
    """Efficiency of a bucket_by_length grid (every 8 tokens of max(src, tgt)) at ``budget``."""
    longest = int(max(src.max(), tgt.max()))
    sizes = [(max(1, budget // (2 * n)), n) for n in range(8, longest + 8, 8)]
    order = np.random.default_rng(seed).permutation(len(src))
    examples = [{"src": int(src[i]), "tgt": int(tgt[i]), "len": [0] * int(max(src[i], tgt[i]))}
                for i in order]  # fmt: skip
    pipeline = read_sequence(examples).bucket_by_length(sizes, selector="len").and_return()
    real = padded = 0
    for batch in pipeline:
        s = [e["src"] for e in batch]
        t = [e["tgt"] for e in batch]
        real += sum(s) + sum(t)
        padded += len(batch) * (max(s) + max(t))
    return real / padded


def python_collate(src_docs: list[list[int]], tgt_docs: list[list[int]], ids: np.ndarray) -> int:
    """The old recipes' padding loop, for the rate baseline."""
    rows = [src_docs[i] for i in ids]
    out = torch.full((len(rows), max(len(r) for r in rows)), 0, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    rows_t = [tgt_docs[i] for i in ids]
    out_t = torch.full((len(rows_t), max(len(r) for r in rows_t)), 0, dtype=torch.int64)
    for i, row in enumerate(rows_t):
        out_t[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return int(out.numel() + out_t.numel())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    num_pairs = 2000 if args.quick else 31084
    budget, batch_size = 4096, 64
    with tempfile.TemporaryDirectory() as tmp:
        ds = build_dataset(Path(tmp), num_pairs)
        src, tgt = ds.column("source").lengths(), ds.column("target").lengths()
        opts = ReaderOptions(seed=1, prefetch=0)
        fixed = pair_reader([ds], pad_idx=0, batch_size=batch_size, options=opts)
        budgeted = pair_reader([ds], pad_idx=0, max_num_tokens=budget, options=opts)
        eff_fixed = fixed.plan().padding_efficiency
        eff_budget = budgeted.plan().padding_efficiency
        eff_bucket = bucket_efficiency(src, tgt, budget, seed=1)
        print(f"{num_pairs} en-es pairs, mean lengths {src.mean():.1f} / {tgt.mean():.1f} tokens")
        print(f"padding efficiency, fixed count ({batch_size} pairs):   {eff_fixed:.3f}")
        print(f"padding efficiency, length buckets ({budget} tokens):   {eff_bucket:.3f}")
        print(f"padding efficiency, token budget ({budget} tokens):     {eff_budget:.3f}")

        col_s, col_t = ds.column("source"), ds.column("target")
        src_docs = [np.asarray(col_s.tokens[a:b]).tolist() for a, b in
                    zip(col_s.offsets[:-1], col_s.offsets[1:], strict=True)]  # fmt: skip
        tgt_docs = [np.asarray(col_t.tokens[a:b]).tolist() for a, b in
                    zip(col_t.offsets[:-1], col_t.offsets[1:], strict=True)]  # fmt: skip
        plan = budgeted.plan()
        rounds = 1 if args.quick else 5
        native, python = [], []
        for _ in range(rounds):
            budgeted.load_state_dict({"epoch": 0, "consumed": 0})
            start = time.process_time()
            n = sum(1 for _ in budgeted)
            native.append((time.process_time() - start) / n)
            start = time.process_time()
            for b in range(len(plan)):
                python_collate(src_docs, tgt_docs, plan.batch(b)[1])
            python.append((time.process_time() - start) / len(plan))
        print(
            f"reader CPU time per batch: native {np.median(native) * 1e6:.0f} us, "
            f"Python padding loop {np.median(python) * 1e6:.0f} us "
            f"(ratio {np.median(python) / np.median(native):.1f}x, medians of {rounds})"
        )


if __name__ == "__main__":
    main()
