"""The recipes' data path end to end: MT training speed, data wait, memory on big datasets.

Three measurements (issue 15), each against a baseline from the same run:

1. **MT end to end.** The same transformer (same initial weights) trained by the seqkit
   ``Trainer`` on the bundled KJV -> RV1909 pairs (joint SentencePiece model trained in
   this run), fed two ways, rounds rotated (old, new, new, old, ...):

   - new: ``seqkit.data.pair_reader`` over a token dataset with a token budget
     (``train.max_num_tokens=4096``): sorted-by-length batches, native padding on a
     background thread;
   - old (the baseline, kept only here): token ids in Python lists, a fixed number of
     pairs per batch shuffled by a numpy permutation per epoch, padded by a Python loop
     (``torch.full`` then one ``torch.tensor(row)`` per row). Its ``batch_size`` is
     chosen so that its real (unpadded) source + target tokens per batch match the token
     budget batches' mean.

   Reported: steps/s and target tokens/s (medians over rounds of the per-step times the
   trainer publishes, warm-up steps dropped), the ratio new/old, padded tokens per step.
2. **Data wait.** A real ``seqkit lm train --preset tiny`` run (tiny model, so the data
   is relatively heavy): the median of the trainer's ``data_wait_share`` (time in the
   reader / step time) over the published windows. Target: <= 2%.
3. **Memory.** ``seqkit lm train --preset tiny`` on a token dataset of random ids
   (2 GiB; 200 MiB with ``--quick``) and on a 20 MiB one, each in a fresh process that
   samples its ``RssAnon`` (/proc/self/status) every 20 ms: the peak over the whole run,
   and the value when ``Trainer.run`` returns (the steps done, reader and plan alive).
   Target: the big dataset's anonymous memory within 300 MB of the small one's.

Usage: ``python benchmarks/data_path.py [--quick] [--only mt|wait|memory] [--threads N]``.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path

import numpy as np
import sentencepiece as spm
import torch
from torch import Tensor, nn

from seqkit.composition import create_container
from seqkit.data import (
    PairBatch,
    ReaderOptions,
    TokenColumn,
    TokenDataset,
    TokenWriter,
    pair_reader,
)
from seqkit.metrics import MetricRecorder, MetricValues
from seqkit.models import ModelFamilies
from seqkit.optim import AdamWConfig, create_optimizer
from seqkit.recipes.loss_units import LossUnit
from seqkit.recipes.mt.units import translation_loss
from seqkit.trainer import DataReader, Trainer, TrainerConfig

REPO = Path(__file__).resolve().parents[1]
BIBLE = REPO / "datasets" / "bible"
PAD, UNK, BOS, EOS = 0, 1, 2, 3
MIB = 1 << 20


# ---------------------------------------------------------------------------- MT e2e
class OldPairReader:
    """The old MT data path (the baseline only): pairs as Python lists of ids, a fixed
    number per batch, a numpy permutation per epoch, padded by a Python loop."""

    def __init__(
        self, src: list[list[int]], tgt: list[list[int]], batch_size: int, seed: int
    ) -> None:
        self.src, self.tgt, self.batch_size, self.seed = src, tgt, batch_size, seed
        self.epoch = self.position = 0

    def __iter__(self) -> Iterator[PairBatch]:
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.src))
        while (self.position + 1) * self.batch_size <= len(order):
            ids = order[self.position * self.batch_size : (self.position + 1) * self.batch_size]
            self.position += 1
            source, source_lens = _pad_rows([self.src[i] for i in ids])
            target, target_lens = _pad_rows([self.tgt[i] for i in ids])
            yield PairBatch(
                source=source,
                source_lens=source_lens,
                target_in=target[:, :-1],
                target_out=target[:, 1:],
                target_lens=target_lens - 1,
            )

    def reset(self) -> None:
        self.epoch, self.position = self.epoch + 1, 0

    def state_dict(self) -> dict[str, object]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        self.epoch, self.position = int(str(state["epoch"])), int(str(state["position"]))


def _pad_rows(rows: list[list[int]]) -> tuple[Tensor, Tensor]:
    out = torch.full((len(rows), max(len(r) for r in rows)), PAD, dtype=torch.int64)
    for i, row in enumerate(rows):
        out[i, : len(row)] = torch.tensor(row, dtype=torch.int64)
    return out, torch.tensor([len(r) for r in rows], dtype=torch.int64)


class StepTimes(MetricRecorder):
    """Keeps the per-step times and target counts the trainer publishes (every step)."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.targets: list[float] = []

    def record(self, section: str, step: int, values: MetricValues) -> None:
        if section == "train":
            self.times.append(float(values["step_time_s"]))
            self.targets.append(float(values["num_targets"]))

    def close(self) -> None:
        pass


def _mt_corpus(tmp: Path, num_pairs: int, vocab: int, max_len: int) -> tuple[Path, Path]:
    """Train a joint SentencePiece model; write the pairs as a token dataset."""
    en = (BIBLE / "kjv-rv1909.en").read_text(encoding="utf-8").splitlines()[:num_pairs]
    es = (BIBLE / "kjv-rv1909.es").read_text(encoding="utf-8").splitlines()[:num_pairs]
    joint = tmp / "joint.txt"
    joint.write_text("\n".join(en + es) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(joint), model_prefix=str(tmp / "mt_spm"), vocab_size=vocab,
        model_type="unigram", pad_id=PAD, unk_id=UNK, bos_id=BOS, eos_id=EOS, minloglevel=2,
    )  # fmt: skip
    sp = spm.SentencePieceProcessor(model_file=str(tmp / "mt_spm.model"))
    sources = [[*ids[: max_len - 1], EOS] for ids in sp.encode(en)]
    targets = [[BOS, *ids[: max_len - 2], EOS] for ids in sp.encode(es)]
    with TokenWriter(tmp / "mt", columns=("source", "target")) as writer:
        for column, docs in (("source", sources), ("target", targets)):
            flat = np.fromiter((t for d in docs for t in d), dtype=np.int64)
            writer.write(flat, np.asarray([len(d) for d in docs], dtype=np.int64), column=column)
    return tmp / "mt", tmp / "mt_spm.model"


def _as_lists(column: TokenColumn) -> list[list[int]]:
    """A column's documents as Python lists of ids (the old path's in-memory form)."""
    bounds = np.asarray(column.offsets).tolist()
    tokens = np.asarray(column.tokens)
    return [tokens[a:b].tolist() for a, b in itertools.pairwise(bounds)]


def _mt_model(vocab: int, quick: bool) -> nn.Module:
    family = create_container().resolve(ModelFamilies).get("transformer")
    size = (64, 1, 128) if quick else (128, 2, 512)
    config = family.structure_config(
        {
            "model_dim": size[0],
            "num_encoder_layers": size[1],
            "num_decoder_layers": size[1],
            "num_attn_heads": 4,
            "ffn_inner_dim": size[2],
            "dropout_p": 0.1,
            "norm_order": "pre",
            "vocab_size": vocab,
            "pad_idx": PAD,
            "max_seq_len": 256,
        }
    )
    return family.create_model(config, device=torch.device("cpu"))


def _train(
    model: nn.Module, reader: DataReader[PairBatch], steps: int, padded: list[int]
) -> StepTimes:
    loss = partial(translation_loss, device=torch.device("cpu"), label_smoothing=0.1)

    def counted(m: nn.Module, batch: PairBatch) -> tuple[Tensor, int]:
        padded.append(batch.source.numel() + batch.target_in.numel())
        return loss(m, batch)

    times = StepTimes()
    optimizer = create_optimizer(AdamWConfig(lr=5e-4), model.parameters())
    config = TrainerConfig(
        max_num_steps=steps, max_grad_norm=1.0, progress_bar=False, publish_metrics_every_n_steps=1
    )
    Trainer(config, LossUnit(model, counted), reader, optimizer, recorders=[times]).run()
    return times


def run_mt(tmp: Path, quick: bool) -> None:
    num_pairs, vocab = (3000, 1000) if quick else (31084, 8000)
    budget, warmup = 4096, 3
    steps, rounds = (8, 2) if quick else (25, 3)
    path, _ = _mt_corpus(tmp, num_pairs, vocab, max_len=160)
    ds = TokenDataset.open(path)
    col_s, col_t = ds.column("source"), ds.column("target")
    src, tgt = _as_lists(col_s), _as_lists(col_t)
    plan = pair_reader([ds], pad_idx=PAD, max_num_tokens=budget, options=ReaderOptions()).plan()
    real_per_batch = plan.real_tokens / len(plan)
    mean_pair = float(np.mean(col_s.lengths() + col_t.lengths()))
    batch_size = max(1, round(real_per_batch / mean_pair))
    print(
        f"MT: {num_pairs} pairs, {vocab}-piece joint vocabulary, mean source + target "
        f"{mean_pair:.1f} tokens; token budget {budget} -> {real_per_batch:.0f} real tokens "
        f"per batch on average, so the old path gets {batch_size} pairs per batch "
        f"({batch_size * mean_pair:.0f} real tokens on average)"
    )
    torch.manual_seed(0)
    initial = _mt_model(vocab, quick)
    results: dict[str, list[tuple[float, float]]] = {"old": [], "new": []}
    padded: dict[str, list[int]] = {"old": [], "new": []}
    for r in range(rounds):
        for kind in ("old", "new") if r % 2 == 0 else ("new", "old"):
            reader: DataReader[PairBatch]
            if kind == "old":
                reader = OldPairReader(src, tgt, batch_size, seed=r)
            else:
                reader = pair_reader(
                    [ds], pad_idx=PAD, max_num_tokens=budget, options=ReaderOptions(seed=r)
                )
            torch.manual_seed(r)
            times = _train(copy.deepcopy(initial), reader, warmup + steps, padded[kind])
            t, n = times.times[warmup:], times.targets[warmup:]
            results[kind].append((len(t) / sum(t), sum(n) / sum(t)))
    med = {k: (statistics.median(a for a, _ in v), statistics.median(b for _, b in v))
           for k, v in results.items()}  # fmt: skip
    labels = {
        "new": f"new (token budget {budget})",
        "old": f"old ({batch_size} pairs, Python padding)",
    }
    for kind, label in labels.items():
        print(
            f"  {label:<36} {med[kind][0]:6.2f} steps/s  {med[kind][1]:8.0f} target tokens/s  "
            f"{statistics.mean(padded[kind]):6.0f} padded tokens/step (source + target in)"
        )
    print(
        f"  ratio new/old: steps/s {med['new'][0] / med['old'][0]:.2f}, target tokens/s "
        f"{med['new'][1] / med['old'][1]:.2f}  (medians of {rounds} rotated rounds x {steps} "
        f"steps after {warmup} warm-up steps, {torch.get_num_threads()} torch thread(s))"
    )


# ------------------------------------------------------------------------- data wait
def _seqkit(out: Path, *config: str) -> list[str]:
    args = ["lm", "train", str(out), "--preset", "tiny"]
    defaults = ("train.progress_bar=false", "train.console_metrics=false")
    for item in (*defaults, *config):
        args += ["--config", item]
    return args


def run_wait(tmp: Path, quick: bool) -> None:
    steps, docs, runs = (60, 2000, 1) if quick else (400, 20000, 3)
    shares: list[float] = []
    waits: list[float] = []
    step_times: list[float] = []
    for r in range(runs):
        out = tmp / f"wait_{r}"
        args = _seqkit(
            out,
            f"data.train_files=[{BIBLE / 'web.en'}]",
            f"data.max_documents={docs}",
            f"train.max_steps={steps}",
            f"train.validate_every_n_steps={steps}",
            f"train.checkpoint_every_n_steps={steps}",
            "train.log_every_n_steps=10",
            f"train.seed={r + 2}",
        )
        subprocess.run([sys.executable, "-m", "seqkit", *args], check=True, capture_output=True)
        for line in (out / "metrics.jsonl").read_text().splitlines():
            row = json.loads(line)
            if row.get("section") == "train":
                shares.append(row["data_wait_share"])
                waits.append(row["data_wait_s"])
                step_times.append(row["step_time_s"])
        shutil.rmtree(out)
    share = statistics.median(shares)
    verdict = "met" if share <= 0.02 else "NOT met"
    print(
        f"Data wait, lm train --preset tiny ({steps} steps x {runs} run(s), {docs} lines of "
        f"web.en, windows of 10 steps): median data_wait_share {share:.4f} "
        f"({share * 100:.2f}% of step time; max window {max(shares) * 100:.2f}%), median "
        f"wait {statistics.median(waits) * 1e6:.0f} us of a "
        f"{statistics.median(step_times) * 1e3:.2f} ms step. Target <= 2%: {verdict}"
    )


# ---------------------------------------------------------------------------- memory
DRIVER = """
import json, sys, threading
def anon():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('RssAnon:'):
                return int(line.split()[1]) * 1024
    return 0
peak = [anon()]
stop = threading.Event()
def sample():
    while not stop.wait(0.02):
        peak[0] = max(peak[0], anon())
threading.Thread(target=sample, daemon=True).start()
from seqkit.trainer import Trainer
after_steps = [0]
train = Trainer.run
def run(self):
    summary = train(self)
    after_steps[0] = anon()  # the steps are done; reader, plan and model still alive
    return summary
Trainer.run = run
from seqkit.cli.main import main
rc = main(sys.argv[1:])
stop.set()
end = anon()
print('RSS ' + json.dumps({'rc': rc, 'end': after_steps[0], 'peak': max(peak[0], end)}))
"""


def _random_tokens(path: Path, num_bytes: int, vocab: int, seed: int) -> None:
    """``num_bytes`` of uint16 ids below ``vocab``, documents of 1 to 4000 tokens."""
    rng = np.random.default_rng(seed)
    total, chunk = num_bytes // 2, 16 * MIB
    with TokenWriter(path, dtype="uint16") as writer:
        written = 0
        while written < total:
            n = min(chunk, total - written)
            lengths = rng.integers(1, 4001, size=n // 2000 + 2)
            lengths = lengths[np.cumsum(lengths) <= n]
            lengths = np.append(lengths, n - int(lengths.sum()))
            lengths = lengths[lengths > 0]
            writer.write(rng.integers(0, vocab, size=n, dtype=np.uint16), lengths)
            written += n


def _measure_rss(
    tmp: Path, dataset: Path, tokenizer: Path, steps: int, seq_len: int | None
) -> dict[str, int]:
    out = tmp / f"rss_{dataset.name}"
    extra = [f"data.max_seq_len={seq_len}"] if seq_len is not None else []
    args = _seqkit(
        out,
        *extra,
        f"data.train_files=[{dataset}]",
        f"tokenizer.name={tokenizer}",
        f"train.max_steps={steps}",
        f"train.validate_every_n_steps={steps}",
        f"train.checkpoint_every_n_steps={steps}",
    )
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, *args], check=True, capture_output=True, text=True
    )
    shutil.rmtree(out, ignore_errors=True)
    line = next(x for x in result.stdout.splitlines() if x.startswith("RSS "))
    values: dict[str, int] = json.loads(line[4:])
    if values["rc"] != 0:
        raise RuntimeError(f"lm train failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return values


def run_memory(tmp: Path, quick: bool, seq_len: int | None) -> None:
    small, big = 20 * MIB, (200 * MIB if quick else 2 * 1024 * MIB)
    steps, vocab = (20 if quick else 50), 1000
    free = shutil.disk_usage(tmp).free
    if free < 2 * (small + big) + 512 * MIB:
        print(f"Memory: skipped, {free / MIB:.0f} MiB free in {tmp} (need {2 * big / MIB:.0f})")
        return
    lines = (BIBLE / "web.en").read_text(encoding="utf-8").splitlines()[:5000]
    (tmp / "mem.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(tmp / "mem.txt"), model_prefix=str(tmp / "mem_spm"), vocab_size=vocab,
        model_type="unigram", minloglevel=2,
    )  # fmt: skip
    tokenizer = tmp / "mem_spm.model"
    sizes = {"small": small, "big": big}
    rss: dict[str, dict[str, int]] = {}
    for name in ("small", "big"):
        dataset = tmp / f"tokens_{name}"
        start = time.perf_counter()
        _random_tokens(dataset, sizes[name], vocab, seed=len(name))
        made = time.perf_counter() - start
        try:
            rss[name] = _measure_rss(tmp, dataset, tokenizer, steps, seq_len)
        finally:
            shutil.rmtree(dataset, ignore_errors=True)
        print(
            f"  {sizes[name] / MIB:6.0f} MiB token dataset (written in {made:.1f} s): RssAnon "
            f"peak {rss[name]['peak'] / 1e6:7.1f} MB, after {steps} steps "
            f"{rss[name]['end'] / 1e6:7.1f} MB"
        )
    peak = (rss["big"]["peak"] - rss["small"]["peak"]) / 1e6
    end = (rss["big"]["end"] - rss["small"]["end"]) / 1e6
    scale = "200 MiB (--quick; the full run uses 2 GiB)" if quick else "2 GiB"
    rows = f"data.max_seq_len={seq_len}" if seq_len is not None else "rows of 32 tokens"
    print(
        f"Memory, lm train --preset tiny ({rows}), {scale} vs 20 MiB of random uint16 ids: "
        f"RssAnon difference peak {peak:+.1f} MB ({_verdict(peak)}), after the steps "
        f"{end:+.1f} MB ({_verdict(end)}); target <= 300 MB"
    )


def _verdict(difference_mb: float) -> str:
    return "met" if difference_mb <= 300 else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few steps")
    parser.add_argument("--only", choices=("mt", "wait", "memory"), default=None)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (MT)")
    parser.add_argument(
        "--max-seq-len", type=int, default=None, help="memory: data.max_seq_len (preset: 32)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.only in (None, "mt"):
            run_mt(tmp, args.quick)
        if args.only in (None, "wait"):
            run_wait(tmp, args.quick)
        if args.only in (None, "memory"):
            run_memory(tmp, args.quick, args.max_seq_len)
    if args.quick:
        print("(--quick: small corpus, model and datasets; figures are a smoke check only)")


if __name__ == "__main__":
    main()
