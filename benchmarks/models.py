"""seqkit llama vs Hugging Face ``LlamaForCausalLM``, and model loading memory/time.

1. Training step: forward + backward tokens/s of seqkit's llama vs HF's
   ``LlamaForCausalLM`` (SDPA attention) with the same config and the same weights (HF
   checkpoint loaded through seqkit), interleaved in one run. Ratio = seqkit / HF.
2. Loading: ``ModelHub.load`` vs HF ``from_pretrained`` of the same random-weight HF
   checkpoint (~124M parameters in float32; ``--quick``: ~25M), each in a fresh
   subprocess (the order alternated over rounds; best of 3): wall time of the load, peak
   RSS (``VmHWM``) after the load and after one forward pass, both as growth over the RSS
   before loading and as a ratio seqkit / HF (target: <= 1.0 for load time and peak RSS).
   ``seqkit-dir`` loads the same weights saved by ``save_model``, whose
   ``checksums.sha256`` is verified (hashed) first.

Usage: ``python benchmarks/models.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import LlamaConfig as HFLlamaConfig
from transformers import LlamaForCausalLM

from seqkit.models import ModelFamilies, ModelHub, save_model
from seqkit.models.llama import create_llama_family
from seqkit.models.transformer import create_transformer_family

_LOAD_CHILD = r"""
import json, sys, time
import torch

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the forked parent across exec.
def status_kib(field):
    with open("/proc/self/status") as fp:
        for line in fp:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no " + field)

kind, path = sys.argv[1], sys.argv[2]
if kind.startswith("seqkit"):
    from seqkit.models import ModelFamilies, ModelHub, save_model
    from seqkit.models.llama import create_llama_family
    hub = ModelHub(ModelFamilies([create_llama_family()]))
    load = lambda: hub.load(path)
else:
    from transformers import LlamaForCausalLM
    load = lambda: LlamaForCausalLM.from_pretrained(path)
before = status_kib("VmRSS")
start = time.perf_counter()
model = load()
elapsed = time.perf_counter() - start
peak = status_kib("VmHWM")
seqs = torch.randint(0, 1000, (1, 16))
with torch.no_grad():
    model(seqs) if kind.startswith("seqkit") else model(input_ids=seqs)
peak_forward = status_kib("VmHWM")
nbytes = sum(p.numel() * p.element_size() for p in model.parameters())
print(json.dumps({"seconds": elapsed, "peak_kib": peak - before,
                  "peak_forward_kib": peak_forward - before, "param_bytes": nbytes}))
"""


def _hf_config(quick: bool) -> HFLlamaConfig:
    dim, layers, ffn = (256, 2, 704) if quick else (512, 4, 1408)
    return HFLlamaConfig(
        vocab_size=8192,
        hidden_size=dim,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=8,
        num_key_value_heads=4,
        max_position_embeddings=1024,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        attn_implementation="sdpa",
    )


def _train_step(model: torch.nn.Module, seqs: torch.Tensor, hf: bool) -> None:
    inputs, targets = seqs[:, :-1], seqs[:, 1:]
    logits = model(input_ids=inputs).logits if hf else model(inputs)
    loss = F.cross_entropy(logits.flatten(0, 1), targets.flatten())
    loss.backward()
    model.zero_grad(set_to_none=True)


def bench_training(quick: bool, families: ModelFamilies, workdir: Path) -> float:
    torch.manual_seed(0)
    hf = LlamaForCausalLM(_hf_config(quick)).train()
    hf.save_pretrained(workdir / "train")
    ours = ModelHub(families).load(workdir / "train").train()
    batch, seq_len = (4, 129) if quick else (8, 257)
    seqs = torch.randint(0, 8192, (batch, seq_len))
    tokens = batch * (seq_len - 1)
    repeats = 5 if quick else 8
    timings: dict[str, list[float]] = {"seqkit": [], "hf": []}
    for name, model in (("seqkit", ours), ("hf", hf)):
        _train_step(model, seqs, name == "hf")  # warm-up
    pairs = [("seqkit", ours), ("hf", hf)]
    for repeat in range(repeats):
        # Alternate which model goes first so neither always runs on a cold allocator.
        for name, model in pairs if repeat % 2 == 0 else pairs[::-1]:
            start = time.perf_counter()
            _train_step(model, seqs, name == "hf")
            timings[name].append(time.perf_counter() - start)
    ours_tps = tokens / min(timings["seqkit"])
    hf_tps = tokens / min(timings["hf"])
    ratio = ours_tps / hf_tps
    print(
        f"fwd+bwd tokens/s (best of {repeats}, batch {batch}x{seq_len - 1}): "
        f"seqkit {ours_tps:,.0f}  HF {hf_tps:,.0f}  ratio {ratio:.2f}x"
    )
    return ratio


def _load_in_subprocess(kind: str, path: Path) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _LOAD_CHILD, kind, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_loading(quick: bool, workdir: Path) -> dict[str, float]:
    torch.manual_seed(0)
    # ~124M parameters (GPT-2 small / SmolLM2-135M class) in full mode.
    dim, layers, ffn, vocab = (512, 4, 1408, 16000) if quick else (768, 12, 2048, 32000)
    config = HFLlamaConfig(
        vocab_size=vocab,
        hidden_size=dim,
        intermediate_size=ffn,
        num_hidden_layers=layers,
        num_attention_heads=12 if not quick else 8,
        num_key_value_heads=4,
        tie_word_embeddings=False,
    )
    LlamaForCausalLM(config).save_pretrained(workdir / "load")
    weight_bytes = sum(p.stat().st_size for p in (workdir / "load").glob("*.safetensors"))
    # The same weights as a seqkit directory: its checksums.sha256 is verified on load.
    families = ModelFamilies([create_llama_family()])
    save_model(ModelHub(families).load(workdir / "load"), workdir / "seqkit_dir")
    paths = {
        "seqkit": workdir / "load",
        "hf": workdir / "load",
        "seqkit-dir": workdir / "seqkit_dir",
    }
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in paths}
    for repeat in range(3):
        kinds = list(paths) if repeat % 2 == 0 else list(paths)[::-1]
        for kind in kinds:
            results[kind].append(_load_in_subprocess(kind, paths[kind]))
    best = {
        kind: {
            key: min(r[key] for r in runs) for key in ("seconds", "peak_kib", "peak_forward_kib")
        }
        for kind, runs in results.items()
    }
    params = int(results["seqkit"][0]["param_bytes"]) // 4
    print(
        f"load: {params / 1e6:.0f}M parameters, {weight_bytes / 2**20:.0f} MiB of float32 "
        "weights, best of 3 fresh subprocesses each"
    )
    for kind, figures in best.items():
        print(
            f"load {kind:10s}: {figures['seconds']:.3f} s, peak RSS growth "
            f"{figures['peak_kib'] / 1024:.0f} MiB after load "
            f"({figures['peak_kib'] * 1024 / weight_bytes:.2f}x the weights), "
            f"{figures['peak_forward_kib'] / 1024:.0f} MiB after one forward pass"
        )
    ratios = {
        "seconds_verified": best["seqkit-dir"]["seconds"] / best["hf"]["seconds"],
        "seconds": best["seqkit"]["seconds"] / best["hf"]["seconds"],
        "peak": best["seqkit"]["peak_kib"] / max(best["hf"]["peak_kib"], 1.0),
        "peak_forward": best["seqkit"]["peak_forward_kib"] / best["hf"]["peak_forward_kib"],
    }
    print(
        f"load seqkit / HF: time {ratios['seconds']:.2f}x, peak RSS after load "
        f"{ratios['peak']:.2f}x, after a forward pass {ratios['peak_forward']:.2f}x; "
        f"time of a seqkit directory (sha256 verified) {ratios['seconds_verified']:.2f}x"
    )
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    args = parser.parse_args()
    families = ModelFamilies([create_llama_family(), create_transformer_family()])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    with tempfile.TemporaryDirectory() as tmp:
        bench_training(args.quick, families, Path(tmp))
        bench_loading(args.quick, Path(tmp))


if __name__ == "__main__":
    main()
