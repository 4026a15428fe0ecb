"""Trainer step time vs a hand-written PyTorch loop doing the same work, in the same run.

Both train the same small transformer LM (same initial weights, same batches) with AdamW,
a cosine schedule, gradient clipping at 1.0 and ``loss.item()`` every step. The trainer
also records every step to a JSONL file and shows a tqdm progress bar. Repeats are
interleaved (hand, trainer, trainer, hand, ...) so machine-load drift hits both; the
figures are the median over repeats of the paired ratio of mean step times, and the ratio
of the best repeats, for wall time and for process CPU time (steadier on a shared
machine). Ratio = trainer / hand-written
(1.00 = no overhead; the target is <= 1.03).

Usage: ``python benchmarks/trainer.py [--quick] [--threads N]``
"""

from __future__ import annotations

import argparse
import copy
import statistics
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

from seqkit.metrics import JsonlRecorder
from seqkit.optim import AdamWConfig, CosineConfig, create_lr_scheduler, create_optimizer
from seqkit.trainer import Trainer, TrainerConfig, TrainUnit

VOCAB, DIM, LAYERS, BATCH, SEQ = 512, 128, 2, 16, 64


class LM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(VOCAB, DIM)
        layer = nn.TransformerEncoderLayer(DIM, 4, 4 * DIM, dropout=0.0, batch_first=True)
        self.layers = nn.TransformerEncoder(layer, LAYERS, enable_nested_tensor=False)
        self.out = nn.Linear(DIM, VOCAB)
        self.register_buffer("mask", nn.Transformer.generate_square_subsequent_mask(SEQ - 1))

    def forward(self, seqs: Tensor) -> Tensor:
        return self.out(self.layers(self.embed(seqs), mask=self.mask, is_causal=True))


class Unit(TrainUnit[Tensor]):
    def __init__(self, model: nn.Module) -> None:
        self._model = model

    @property
    def model(self) -> nn.Module:
        return self._model

    def __call__(self, batch: Tensor) -> tuple[Tensor, int]:
        logits = self._model(batch[:, :-1])
        targets = batch[:, 1:]
        loss = nn.functional.cross_entropy(
            logits.reshape(-1, VOCAB), targets.reshape(-1), reduction="sum"
        )
        return loss, targets.numel()


class Batches:
    """A resumable reader over pre-built batches."""

    def __init__(self, batches: list[Tensor]) -> None:
        self.batches, self.position = batches, 0

    def __iter__(self) -> Iterator[Tensor]:
        while self.position < len(self.batches):
            self.position += 1
            yield self.batches[self.position - 1]

    def reset(self) -> None:
        self.position = 0

    def state_dict(self) -> dict[str, object]:
        return {"position": self.position}

    def load_state_dict(self, state: Mapping[str, object]) -> None:
        self.position = int(str(state["position"]))


def _optim(model: nn.Module, steps: int) -> tuple[torch.optim.Optimizer, object]:
    optimizer = create_optimizer(AdamWConfig(lr=3e-4), model.parameters())
    scheduler = create_lr_scheduler(CosineConfig(warmup_steps=5, total_steps=steps + 1), optimizer)
    return optimizer, scheduler


def _per_step(start: float, cpu: float, steps: int) -> tuple[float, float]:
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu) / steps


def hand_loop(model: nn.Module, batches: list[Tensor]) -> tuple[float, float]:
    optimizer, scheduler = _optim(model, len(batches))
    losses = []
    start, cpu = time.perf_counter(), time.process_time()
    model.train()
    for batch in batches:
        logits = model(batch[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, VOCAB), batch[:, 1:].reshape(-1))
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()  # type: ignore[attr-defined]
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    return _per_step(start, cpu, len(batches))


def trainer_loop(model: nn.Module, batches: list[Tensor], log_dir: Path) -> tuple[float, float]:
    optimizer, scheduler = _optim(model, len(batches))
    recorder = JsonlRecorder(log_dir / "metrics.jsonl")
    trainer = Trainer(
        TrainerConfig(max_num_steps=len(batches), max_grad_norm=1.0, progress_bar=True),
        Unit(model),
        Batches(batches),
        optimizer,
        lr_scheduler=scheduler,  # type: ignore[arg-type]
        recorders=[recorder],
    )
    start, cpu = time.perf_counter(), time.process_time()
    trainer.run()
    result = _per_step(start, cpu, len(batches))
    recorder.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps and repeats")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    steps, repeats = (20, 3) if args.quick else (60, 7)
    torch.manual_seed(0)
    initial = LM()
    batches = [torch.randint(0, VOCAB, (BATCH, SEQ)) for _ in range(steps)]
    hand_times: list[tuple[float, float]] = []
    trainer_times: list[tuple[float, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        hand_loop(copy.deepcopy(initial), batches[:5])  # warm up kernels and allocator
        for r in range(repeats):
            order = ("hand", "trainer") if r % 2 == 0 else ("trainer", "hand")
            for kind in order:
                model = copy.deepcopy(initial)
                if kind == "hand":
                    hand_times.append(hand_loop(model, batches))
                else:
                    trainer_times.append(trainer_loop(model, batches, Path(tmp) / str(r)))
    for label, index in (("wall", 0), ("CPU", 1)):
        hand = [t[index] for t in hand_times]
        ours = [t[index] for t in trainer_times]
        paired = statistics.median(o / h for o, h in zip(ours, hand, strict=True))
        print(
            f"{label} time per step: trainer (JSONL every step + tqdm) "
            f"{statistics.median(ours) * 1e3:.2f} ms, hand-written loop "
            f"{statistics.median(hand) * 1e3:.2f} ms; ratio trainer/hand: median of paired "
            f"repeats {paired:.3f}, best-vs-best {min(ours) / min(hand):.3f}"
        )
    print(f"({steps} steps x {repeats} interleaved repeats, {args.threads} thread(s))")


if __name__ == "__main__":
    main()
