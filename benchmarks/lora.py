"""LoRA vs full fine-tuning of the same llama model: memory and step time, in one run.

Each mode trains the same model (same initial weights, same batches) with AdamW for a few
steps in its own child process, so that peak RSS (``ru_maxrss``) belongs to that mode
alone. Children run interleaved (full, lora, lora, full, ...) so machine-load drift hits
both modes. Reported per mode: trainable parameters, optimizer state (bytes of AdamW's
``exp_avg``/``exp_avg_sq``/``step`` after the first step), gradient bytes, peak RSS and the
training memory above the RSS once the model is built, and the median step time
(forward + backward + optimizer step). Ratios are LoRA / full from the same run.

Peak RSS counts activations too: with large batches they dominate and hide the optimizer
state, so ``--batch 1 --seq 64`` shows the regime where the weights' state dominates.

Usage: ``python benchmarks/lora.py [--quick] [--threads N] [--rank R] [--repeats N]
[--batch B] [--seq L]``
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from seqkit.models.llama import create_llama_family
from seqkit.nn.lora import LoRAConfig, apply_lora, lora_parameters

FULL = {
    "vocab_size": 8000,
    "model_dim": 512,
    "num_layers": 8,
    "num_attn_heads": 8,
    "num_key_value_heads": 8,
    "ffn_inner_dim": 1408,
    "max_seq_len": 256,
}
QUICK = {
    "vocab_size": 500,
    "model_dim": 64,
    "num_layers": 2,
    "num_attn_heads": 4,
    "num_key_value_heads": 4,
    "ffn_inner_dim": 176,
    "max_seq_len": 64,
}


def _rss_mib() -> float:
    """Current resident set size (Linux /proc), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(
    mode: str, quick: bool, rank: int, steps: int, threads: int, batch: int, seq: int
) -> dict[str, float]:
    """Train ``steps`` steps in ``mode`` (``full`` or ``lora``); return the figures."""
    torch.set_num_threads(threads)
    dims = QUICK if quick else FULL
    family = create_llama_family()
    torch.manual_seed(0)
    model = family.create_model(family.structure_config(dims))
    if mode == "lora":
        apply_lora(model, LoRAConfig(rank=rank, alpha=2.0 * rank), seed=0)
        params = lora_parameters(model)
    else:
        params = list(model.parameters())
    model.train()
    gen = torch.Generator().manual_seed(1)
    batches = [
        torch.randint(3, int(dims["vocab_size"]), (batch, seq + 1), generator=gen)
        for _ in range(steps + 1)
    ]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    rss_built = _rss_mib()
    times: list[float] = []
    optimizer_bytes = grad_bytes = 0
    for i, data in enumerate(batches):
        start = time.perf_counter()
        logits = model(data[:, :-1])
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.shape[-1]), data[:, 1:].reshape(-1)
        )
        loss.backward()
        if i == 0:
            grad_bytes = sum(p.grad.nbytes for p in params if p.grad is not None)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss)
        if i == 0:
            optimizer_bytes = sum(
                t.nbytes for s in optimizer.state.values() for t in s.values() if torch.is_tensor(t)
            )
        else:  # the first step allocates the optimizer state: left out of the timing
            times.append(time.perf_counter() - start)
    return {
        "trainable_params": float(sum(p.numel() for p in params)),
        "total_params": float(sum(p.numel() for p in model.parameters())),
        "optimizer_state_mib": optimizer_bytes / 2**20,
        "grad_mib": grad_bytes / 2**20,
        "peak_rss_mib": _peak_rss_mib(),
        "train_rss_mib": _peak_rss_mib() - rss_built,
        "step_s": statistics.median(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="tiny model, 3 steps, 1 repeat")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=None, help="children per mode")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per child")
    parser.add_argument("--batch", type=int, default=None, help="rows per batch (default 8)")
    parser.add_argument("--seq", type=int, default=None, help="tokens per row (default 128)")
    parser.add_argument("--child", choices=["full", "lora"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    steps = args.steps or (3 if args.quick else 10)
    batch = args.batch or (4 if args.quick else 8)
    seq = args.seq or (32 if args.quick else 128)
    if args.child is not None:
        figures = child(args.child, args.quick, args.rank, steps, args.threads, batch, seq)
        print(json.dumps(figures))
        return
    repeats = args.repeats or (1 if args.quick else 3)
    order = ["full", "lora", "lora", "full"] * ((repeats + 1) // 2)
    results: dict[str, list[dict[str, float]]] = {"full": [], "lora": []}
    for mode in order:
        if len(results[mode]) >= repeats:
            continue
        cmd = [sys.executable, __file__, "--child", mode, "--rank", str(args.rank)]
        cmd += ["--threads", str(args.threads), "--steps", str(steps)]
        cmd += ["--batch", str(batch), "--seq", str(seq)]
        cmd += ["--quick"] if args.quick else []
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        results[mode].append(json.loads(out.strip().splitlines()[-1]))

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in results[mode])

    dims = QUICK if args.quick else FULL
    print(
        f"llama {dims['num_layers']} layers x width {dims['model_dim']}, vocab "
        f"{dims['vocab_size']}; batches of {batch} x {seq} tokens; "
        f"LoRA rank {args.rank} on q/k/v/o/gate/up/down; "
        f"{repeats} child(ren) per mode, {steps} timed steps each, {args.threads} thread(s)"
    )
    rows = [
        ("trainable parameters (M)", "trainable_params", 1e-6),
        ("optimizer state (MiB)", "optimizer_state_mib", 1.0),
        ("gradients (MiB)", "grad_mib", 1.0),
        ("peak RSS (MiB)", "peak_rss_mib", 1.0),
        ("training memory above the built model (MiB)", "train_rss_mib", 1.0),
        ("step time (ms)", "step_s", 1e3),
    ]
    print("| figure | full | LoRA | LoRA / full |")
    print("|---|---|---|---|")
    for label, key, scale in rows:
        full, lora = med("full", key), med("lora", key)
        ratio = lora / full if full else float("nan")
        print(f"| {label} | {full * scale:.2f} | {lora * scale:.3f} | {ratio:.4f} |")


if __name__ == "__main__":
    main()
