"""Training throughput (tokens/s) and MFU of a llama, vs HF transformers in the same run.

For one model shape and dtype, each mode trains the same random-weight llama on the same
random batch: forward under autocast (fp32 weights, as the trainer does), cross entropy,
backward, AdamW step (fused on CUDA). Modes:

* ``eager``: seqkit's llama as is;
* ``compile``: each transformer layer compiled (``seqkit.nn.compile_layers``);
* ``compile_ac``: compiled, with activation checkpointing of every layer;
* ``hf``: ``transformers.LlamaForCausalLM`` (SDPA attention) of the same shape, with the
  same loss, optimizer and dtype; the figures report seqkit / HF ratios.

MFU = model FLOPs per token (``seqkit.models.flops.llama_flops_per_token``: 6N + 12LAS,
PaLM's count) x tokens/s / peak. The peak is the device's dense bf16 peak on a known
CUDA device (``--peak-tflops`` overrides), and on CPU the FLOP/s of a square fp32 matmul
measured in the same run (so CPU MFU reads "share of this machine's matmul speed").
Figures are the mean step time over ``--steps`` timed steps after ``--warmup`` steps
(compilation happens in the warmup).

Usage: ``python benchmarks/train_throughput.py [--quick] [--device cuda] [--json PATH]``
The default shape on CUDA is a ~1B llama: dim 2048, 16 layers, 32 heads, 8 KV heads,
FFN 8192, vocabulary 32000, sequence 2048, bf16; on CPU (or with ``--quick``) a tiny one.
Target (issue 20): MFU >= 50% for the 1B shape on one H100/H200.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import gc
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqkit.models.flops import llama_flops_per_token
from seqkit.models.llama import LlamaConfig, create_llama_model
from seqkit.nn import apply_activation_checkpointing, compile_layers, compile_unsupported_reason
from seqkit.optim import AdamWConfig, create_optimizer
from seqkit.trainer.throughput import device_peak_flops

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


@dataclasses.dataclass
class Shape:
    dim: int
    layers: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    seq: int
    batch: int


GPU_1B = Shape(dim=2048, layers=16, heads=32, kv_heads=8, ffn=8192, vocab=32000, seq=2048, batch=4)
CPU_SMALL = Shape(dim=256, layers=4, heads=8, kv_heads=4, ffn=768, vocab=4096, seq=256, batch=4)
CPU_TINY = Shape(dim=64, layers=2, heads=4, kv_heads=2, ffn=192, vocab=512, seq=64, batch=4)


def llama_config(shape: Shape) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=shape.vocab,
        model_dim=shape.dim,
        num_layers=shape.layers,
        num_attn_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        ffn_inner_dim=shape.ffn,
        max_seq_len=shape.seq,
        tie_embeddings=False,
        dropout_p=0.0,
    )


def hf_model(shape: Shape, device: torch.device) -> nn.Module:
    from transformers import LlamaConfig as HFLlamaConfig
    from transformers import LlamaForCausalLM

    config = HFLlamaConfig(
        vocab_size=shape.vocab,
        hidden_size=shape.dim,
        intermediate_size=shape.ffn,
        num_hidden_layers=shape.layers,
        num_attention_heads=shape.heads,
        num_key_value_heads=shape.kv_heads,
        max_position_embeddings=shape.seq,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )
    model: nn.Module = LlamaForCausalLM(config).to(device)
    return model


class HFLogits(nn.Module):
    """``LlamaForCausalLM`` called like seqkit's model: token ids in, logits out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, seqs: Tensor) -> Tensor:
        out: Tensor = self.model(input_ids=seqs).logits
        return out


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure_matmul_peak(device: torch.device, dtype: torch.dtype, size: int) -> float:
    """FLOP/s of a square matmul, the best of a few timed batches."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    best = 0.0
    for _ in range(5):
        synchronize(device)
        start = time.perf_counter()
        for _ in range(4):
            a @ b
        synchronize(device)
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - start))
    return best


def time_training(
    model: nn.Module,
    tokens: Tensor,
    *,
    dtype: torch.dtype,
    warmup: int,
    steps: int,
) -> float:
    """Mean seconds per training step (forward, loss, backward, optimizer step)."""
    device = tokens.device
    optimizer = create_optimizer(AdamWConfig(lr=1e-4), [p for p in model.parameters()])
    inputs, targets = tokens[:, :-1], tokens[:, 1:]
    autocast = (
        torch.autocast(device.type, dtype=dtype)
        if dtype != torch.float32
        else contextlib.nullcontext()
    )

    def step() -> None:
        with autocast:
            logits = model(inputs)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    return (time.perf_counter() - start) / steps


def run_mode(
    mode: str, shape: Shape, device: torch.device, dtype: torch.dtype, args: argparse.Namespace
) -> dict[str, float | str]:
    torch.manual_seed(0)
    tokens = torch.randint(0, shape.vocab, (shape.batch, shape.seq + 1), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model: nn.Module
    if mode == "hf":
        model = HFLogits(hf_model(shape, device))
    else:
        model = create_llama_model(llama_config(shape), device=device)
        if mode == "compile_ac":
            apply_activation_checkpointing(model, "every")
        if mode in ("compile", "compile_ac"):
            reason = compile_unsupported_reason(device)
            if reason is not None:
                return {"skipped": reason}
            compile_layers(model)
    model.train()
    seconds = time_training(model, tokens, dtype=dtype, warmup=args.warmup, steps=args.steps)
    result: dict[str, float | str] = {
        "step_s": seconds,
        "tokens_per_s": shape.batch * shape.seq / seconds,
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = torch.cuda.max_memory_allocated(device) / 2**30
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    if mode in ("compile", "compile_ac"):
        torch._dynamo.reset()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny shape, 4 steps")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if any)")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default=None)
    parser.add_argument("--modes", default=None, help="comma list of eager,compile,compile_ac,hf")
    parser.add_argument("--batch", type=int, default=None)
    parser.add_argument("--seq", type=int, default=None)
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--warmup", type=int, default=None)
    parser.add_argument("--peak-tflops", type=float, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    on_gpu = device.type == "cuda"
    shape = CPU_TINY if args.quick else (GPU_1B if on_gpu else CPU_SMALL)
    overrides = {n: getattr(args, n) for n in ("batch", "seq", "layers") if getattr(args, n)}
    shape = dataclasses.replace(shape, **overrides)
    dtype = DTYPES[args.dtype or ("bfloat16" if on_gpu else "float32")]
    default_modes = "eager,hf" if args.quick and not on_gpu else "eager,compile,compile_ac,hf"
    modes = [m.strip() for m in (args.modes or default_modes).split(",") if m.strip()]
    args.steps = args.steps or (4 if args.quick else 10)
    args.warmup = args.warmup or (2 if args.quick else 3)

    flops_per_token = llama_flops_per_token(llama_config(shape), shape.seq)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else device_peak_flops(device)
    peak_source = "given" if args.peak_tflops else "device table"
    if peak is None:
        size = 256 if args.quick else 1024
        peak = measure_matmul_peak(device, dtype, size)
        peak_source = f"measured {size}x{size} {str(dtype).removeprefix('torch.')} matmul"
    print(
        f"llama {shape} on {device} ({torch.cuda.get_device_name(device) if on_gpu else 'CPU'}), "
        f"{dtype}, {flops_per_token / 1e9:.3f} GFLOP/token, peak {peak / 1e12:.2f} TFLOP/s "
        f"({peak_source})"
    )
    results: dict[str, dict[str, float | str]] = {}
    for mode in modes:
        result = run_mode(mode, shape, device, dtype, args)
        if "tokens_per_s" in result:
            result["mfu"] = flops_per_token * float(result["tokens_per_s"]) / peak
        results[mode] = result
        if "skipped" in result:
            print(f"{mode:>11}: skipped ({result['skipped']})")
            continue
        memory = f", peak mem {result['peak_memory_gib']:.1f} GiB" if on_gpu else ""
        print(
            f"{mode:>11}: {result['step_s'] * 1e3:8.1f} ms/step, "
            f"{result['tokens_per_s']:10.0f} tokens/s, MFU {100 * float(result['mfu']):5.1f}%"
            f"{memory}"
        )
    hf = results.get("hf", {}).get("tokens_per_s")
    ratios = {
        f"{mode}_vs_hf": float(r["tokens_per_s"]) / float(hf)
        for mode, r in results.items()
        if hf and mode != "hf" and "tokens_per_s" in r
    }
    for name, ratio in ratios.items():
        print(f"{name}: {ratio:.2f}x HF tokens/s")
    if args.json is not None:
        report = {
            "shape": shape.__dict__,
            "device": torch.cuda.get_device_name(device) if on_gpu else "cpu",
            "dtype": str(dtype),
            "flops_per_token": flops_per_token,
            "peak_flops_per_s": peak,
            "peak_source": peak_source,
            "modes": results,
            "ratios": ratios,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
