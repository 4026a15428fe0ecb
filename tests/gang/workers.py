"""Per-rank bodies of the multi-process tests (importable, so spawned processes find them).

Each returns a JSON-able dict of observations that the test then checks; assertions inside
a worker fail that rank, and the parent reports its traceback.
"""

from __future__ import annotations

import copy
import json
import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from seqkit.gang import (
    FakeGang,
    FsdpConfig,
    GangError,
    ProcessGroupGang,
    ReduceOperation,
    ShardKind,
    get_consolidated_state_dict,
    get_sharded_state_dict,
    load_consolidated_state_dict,
    load_sharded_state_dict,
    setup_gangs,
    shard_modules,
    to_ddp,
    to_fsdp,
)
from seqkit.gang.gang import Gang
from seqkit.gang.grad_norm import clip_grad_norm
from seqkit.gang.setup import Gangs
from seqkit.gang.tensor_parallel import RowShardedLinear


def _raises(exc: type[BaseException], fn: Any) -> str:
    try:
        fn()
    except exc as ex:
        return str(ex)
    raise AssertionError(f"expected {exc.__name__}")


def check_collectives(gang: Gang) -> None:
    """Every collective of ``gang`` against values computed by hand."""
    n, r, dev = gang.size, gang.rank, gang.device
    base = torch.tensor([r + 1.0, 2.0 * (r + 1)], device=dev)
    expected = {
        ReduceOperation.SUM: [n * (n + 1) / 2, n * (n + 1)],
        ReduceOperation.MEAN: [(n + 1) / 2, n + 1.0],
        ReduceOperation.MAX: [n, 2.0 * n],
        ReduceOperation.MIN: [1.0, 2.0],
    }
    for op, want in expected.items():
        t = base.clone()
        gang.all_reduce(t, op)
        assert t.tolist() == want, (op, t.tolist(), want)
    ints = torch.tensor([r], dtype=torch.int64, device=dev)
    gang.all_reduce(ints, ReduceOperation.SUM)
    assert ints.item() == n * (n - 1) // 2

    out = torch.empty(2 * n, 3, device=dev)
    gang.all_gather(out, torch.full((2, 3), float(r), device=dev))
    assert out[:, 0].tolist() == [float(i // 2) for i in range(2 * n)]

    outs = [torch.empty(3, dtype=torch.int64, device=dev) for _ in range(n)]
    gang.all_gather_to_list(outs, torch.arange(3, device=dev) + 10 * r)
    assert [o.tolist() for o in outs] == [[10 * i, 10 * i + 1, 10 * i + 2] for i in range(n)]

    t = torch.tensor([float(r)], device=dev)
    gang.broadcast(t, source_rank=n - 1)
    assert t.item() == n - 1

    objs: list[object] = [{"from": r}, f"rank{r}"] if r == 1 % n else [None, None]
    gang.broadcast_objects(objs, source_rank=1 % n)
    assert objs == [{"from": 1 % n}, f"rank{1 % n}"], objs
    gang.barrier()

    # Misuse fails on the calling rank before any communication (so nobody hangs).
    _raises(ValueError, lambda: gang.all_gather(torch.empty(1, 3), torch.empty(2, 3)))
    _raises(ValueError, lambda: gang.broadcast(torch.empty(1), source_rank=n))
    _raises(ValueError, lambda: gang.create_gang([0, 0]))
    _raises(TypeError, lambda: gang.all_reduce(torch.tensor([1]), ReduceOperation.MEAN))


class TinyBlock(nn.Module):
    """A one-layer transformer LM (attention + SwiGLU + vocab projection)."""

    def __init__(self, vocab: int = 16, dim: int = 8, heads: int = 4, ffn: int = 12) -> None:
        super().__init__()
        self.head_dim = dim // heads
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.q, self.k, self.v = (nn.Linear(dim, dim, bias=False) for _ in range(3))
        self.o = nn.Linear(dim, dim)
        self.gate, self.inner = nn.Linear(dim, ffn), nn.Linear(dim, ffn)
        self.out = nn.Linear(ffn, dim)
        self.proj = nn.Linear(dim, vocab, bias=False)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        b, s, _ = x.shape
        # -1 heads: under tensor parallelism each rank holds heads / tp_size of them.
        q, k, v = (
            p(x).view(b, s, -1, self.head_dim).transpose(1, 2) for p in (self.q, self.k, self.v)
        )
        a = (
            F.scaled_dot_product_attention(q, k, v, is_causal=True)
            .transpose(1, 2)
            .reshape(b, s, -1)
        )
        x = x + self.o(a)
        x = x + self.out(F.silu(self.gate(x)) * self.inner(x))
        return self.proj(x)


TINY_PLAN = {
    "embed": ShardKind.VOCAB,
    "q": ShardKind.COLUMN,
    "k": ShardKind.COLUMN,
    "v": ShardKind.COLUMN,
    "o": ShardKind.ROW,
    "gate": ShardKind.COLUMN,
    "inner": ShardKind.COLUMN,
    "out": ShardKind.ROW,
    "proj": ShardKind.COLUMN_GATHER,
}


def check_tensor_parallel(tp: Gang, root: Gang) -> dict[str, Any]:
    """A TP-sharded TinyBlock gives the full block's logits and gradient slices."""
    torch.manual_seed(0)
    full = TinyBlock()
    sharded = copy.deepcopy(full)
    replaced = shard_modules(sharded, tp, TINY_PLAN)
    ids = torch.randint(0, 16, (2, 5), generator=torch.Generator().manual_seed(tp.rank // 99))
    ids[0, -1] = 0  # a pad token
    want = full(ids)
    got = sharded(ids)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    want.square().mean().backward()
    got.square().mean().backward()
    r, n = tp.rank, tp.size

    def rows(t: torch.Tensor) -> torch.Tensor:
        return t.chunk(n, 0)[r]

    grads = {
        "q": (sharded.q.weight.grad, rows(full.q.weight.grad)),
        "gate.bias": (sharded.gate.bias.grad, rows(full.gate.bias.grad)),
        "o": (sharded.o.weight.grad, full.o.weight.grad.chunk(n, 1)[r]),
        "o.bias": (sharded.o.bias.grad, full.o.bias.grad),
        "embed": (sharded.embed.weight.grad, rows(full.embed.weight.grad)),
        "proj": (sharded.proj.weight.grad, rows(full.proj.weight.grad)),
    }
    for name, (g, w) in grads.items():
        torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-5, msg=name)
    # Clipping sees the full model's norm on every rank and scales the slices alike.
    full_norm = clip_grad_norm(full, list(full.parameters()), 0.01)
    tp_norm = clip_grad_norm(sharded, list(sharded.parameters()), 0.01)
    torch.testing.assert_close(tp_norm, full_norm, atol=1e-6, rtol=1e-5)
    assert full_norm > 0.01  # so the scale is not 1
    clipped = {
        "q": (sharded.q.weight.grad, rows(full.q.weight.grad)),  # column-sharded
        "o": (sharded.o.weight.grad, full.o.weight.grad.chunk(n, 1)[r]),  # row-sharded
        "o.bias": (sharded.o.bias.grad, full.o.bias.grad),  # replicated
        "embed": (sharded.embed.weight.grad, rows(full.embed.weight.grad)),  # vocab-sharded
    }
    for name, (g, w) in clipped.items():
        torch.testing.assert_close(g, w, atol=1e-6, rtol=1e-5, msg=f"clipped {name}")
    # Consolidation gathers the slices back into the full weights.
    state = get_consolidated_state_dict(sharded, root, rank0_only=False)
    assert state.keys() == full.state_dict().keys()
    for key, value in full.state_dict().items():
        torch.testing.assert_close(state[key], value)
    other = TinyBlock()
    shard_modules(other, tp, TINY_PLAN)
    load_consolidated_state_dict(other, state)
    torch.testing.assert_close(other(ids), want.detach(), atol=1e-5, rtol=1e-5)
    # A row-sharded layer can also cut a replicated input itself.
    lin = nn.Linear(6, 4)
    torch.testing.assert_close(
        RowShardedLinear.from_linear(lin, tp, scatter_input=True)(torch.ones(3, 6)),
        lin(torch.ones(3, 6)),
    )
    return {"replaced": replaced, "local_q_rows": sharded.q.weight.shape[0]}


def check_tp_dp_training(gangs: Gangs) -> float:
    """TinyBlock split 2-way by tensor and 2-way by data parallelism trains like one
    process on the global batch; returns the largest weight difference."""
    torch.manual_seed(0)
    reference = TinyBlock()
    model = copy.deepcopy(reference)
    shard_modules(model, gangs.tp, TINY_PLAN)
    ddp = to_ddp(model, gangs.dp)
    ids = torch.randint(1, 16, (3, 4, 6), generator=torch.Generator().manual_seed(5))
    rows = ids.size(1) // gangs.dp.size
    local = ids[:, gangs.dp.rank * rows : (gangs.dp.rank + 1) * rows]
    for net, batches in ((reference, ids), (ddp, local)):
        opt = torch.optim.SGD(net.parameters(), lr=0.5)
        for batch in batches:
            opt.zero_grad()
            logits = net(batch[:, :-1])
            F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten()).backward()
            opt.step()
    state = get_consolidated_state_dict(ddp, gangs.root, rank0_only=False)
    return max((state[k] - v).abs().max().item() for k, v in reference.state_dict().items())


def world_four(rank: int, size: int, port: int, out_dir: Path) -> dict[str, Any]:
    """4 ranks from a faked torchrun environment: collectives, sub-gangs, TP gangs."""
    env = {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(rank),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
    gangs = setup_gangs(tp_size=2, device=torch.device("cpu"), timeout=60, env=env)
    check_collectives(gangs.root)

    # Sub-gang {1, 3}; then {3} inside it, which maps its rank 1 back to global rank 3.
    sub = gangs.root.create_gang([1, 3])
    result: dict[str, Any] = {"in_sub": sub is not None}
    if sub is not None:
        check_collectives(sub)
        t = torch.tensor([float(rank)])
        sub.broadcast(t, source_rank=1)
        result["sub_broadcast"] = t.item()
        t = torch.tensor([float(rank)])
        sub.all_reduce(t, ReduceOperation.SUM)
        result["sub_sum"] = t.item()
        inner = sub.create_gang([1])
        result["inner"] = None if inner is None else [inner.rank, inner.size]

    for name, gang in (("tp", gangs.tp), ("dp", gangs.dp)):
        members = [torch.empty(1, dtype=torch.int64) for _ in range(gang.size)]
        gang.all_gather_to_list(members, torch.tensor([rank]))
        result[name] = [int(m) for m in members]
        check_collectives(gang)
    result.update(check_tensor_parallel(gangs.tp, gangs.root))
    result.update(check_llama_tensor_parallel(gangs.tp, gangs.root))
    result["tp_dp_diff"] = check_tp_dp_training(gangs)
    gangs.root.barrier()
    gangs.close()
    return result


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def _batches(steps: int = 4, batch: int = 8) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(steps, batch, 6, generator=g), torch.randint(
        0, 3, (steps, batch), generator=g
    )


def _train(model: nn.Module, xs: torch.Tensor, ys: torch.Tensor) -> None:
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    for x, y in zip(xs, ys, strict=True):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()


def world_two(rank: int, size: int, port: int, out_dir: Path) -> dict[str, Any]:
    """2 ranks from a faked SLURM environment: DDP and FSDP2 training equal the
    single-process run on the global batch; state dicts round-trip."""
    env = {
        "SLURM_PROCID": str(rank),
        "SLURM_NTASKS": str(size),
        "SLURM_LOCALID": str(rank),
        "SLURM_JOB_NODELIST": "localhost,node[2-3]",
        "SLURM_JOB_ID": str(port - 20000),
    }
    gangs = setup_gangs(device=torch.device("cpu"), timeout=60, env=env)
    assert isinstance(gangs.root, ProcessGroupGang)
    assert isinstance(gangs.tp, FakeGang)
    assert gangs.dp is gangs.root
    result: dict[str, Any] = {"rank": gangs.root.rank, "size": gangs.root.size}
    check_collectives(gangs.root)

    xs, ys = _batches()
    local = slice(rank * 4, (rank + 1) * 4)
    torch.manual_seed(0)
    reference = _mlp()
    initial = copy.deepcopy(reference.state_dict())
    _train(reference, xs, ys)

    ddp_model = _mlp()
    ddp_model.load_state_dict(initial)
    ddp = to_ddp(ddp_model, gangs.dp)
    _train(ddp, xs[:, local], ys[:, local])
    result["ddp_diff"] = max(
        (a - b).abs().max().item()
        for a, b in zip(
            ddp_model.state_dict().values(), reference.state_dict().values(), strict=True
        )
    )

    def fsdp_mlp(config: FsdpConfig | None = None) -> nn.Module:
        model = _mlp()
        model.load_state_dict(initial)
        return to_fsdp(model, gangs.dp, config, wrap=lambda _, m: isinstance(m, nn.Linear))

    fsdp = fsdp_mlp()
    _train(fsdp, xs[:, local], ys[:, local])
    full = get_consolidated_state_dict(fsdp, gangs.root, rank0_only=False)
    result["fsdp_diff"] = max(
        (full[k] - v).abs().max().item() for k, v in reference.state_dict().items()
    )
    result["rank0_only_empty"] = get_consolidated_state_dict(fsdp, gangs.root) == {}
    probe = torch.randn(5, 6, generator=torch.Generator().manual_seed(2))
    want = fsdp(probe).detach()

    shards = get_sharded_state_dict(fsdp)
    result["shard_rows"] = shards["0.weight"].shape[0]
    restored = fsdp_mlp()
    load_sharded_state_dict(restored, shards)
    torch.testing.assert_close(restored(probe), want)
    restored = fsdp_mlp()
    load_consolidated_state_dict(restored, full)
    torch.testing.assert_close(restored(probe), want)
    _raises(Exception, lambda: load_consolidated_state_dict(restored, {"nope": probe}))

    mixed = fsdp_mlp(FsdpConfig(param_dtype=torch.bfloat16, reduce_dtype=torch.float32))
    out = mixed(probe)
    result["bf16_dtype"] = str(out.dtype)
    result["bf16_err"] = (out.float() - _run_plain(initial, probe)).abs().max().item()
    check_failures(gangs.root, out_dir, result)
    return result


def _run_plain(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    model = _mlp()
    model.load_state_dict(state)
    return model(x).detach()


FAIL_TIMEOUT_S = 3


def check_failures(root: ProcessGroupGang, out_dir: Path, result: dict[str, Any]) -> None:
    """Rank 1 first hangs (alive, absent from a collective), then dies; rank 0 must get a
    clear error each time instead of hanging. Rank 1 reports before it dies."""
    short = root.create_gang([0, 1], timeout=timedelta(seconds=FAIL_TIMEOUT_S))
    assert short is not None
    root.barrier()
    flag = out_dir / "rank0_timed_out"
    if root.rank == 1:
        (out_dir / "rank1.json").write_text(json.dumps({"ok": True, **result}))
        deadline = time.monotonic() + 120
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os._exit(3)  # a crash: no goodbye to the others
    errors = {}
    for name, gang in (("stuck", short), ("dead", root)):
        try:
            gang.all_reduce(torch.ones(1), ReduceOperation.SUM)
        except GangError as ex:
            errors[name] = {"message": str(ex), "operation": ex.operation, "rank": ex.rank}
        flag.touch()
    result["errors"] = errors


def check_llama_tensor_parallel(tp: Gang, root: Gang) -> dict[str, Any]:
    """Llama sharded over ``tp`` gives the tp_size=1 logits, with padding and a KV cache."""
    from seqkit.models.llama.config import LlamaConfig
    from seqkit.models.llama.factory import create_llama_model
    from seqkit.models.llama.sharder import shard_llama_model
    from seqkit.nn import BatchLayout, IncrementalStateBag

    checked = []
    for tie, bias in ((False, False), (True, True)):
        config = LlamaConfig(
            model_dim=32, num_layers=2, num_attn_heads=4, num_key_value_heads=2,
            ffn_inner_dim=48, vocab_size=64, max_seq_len=32, rope_theta=10000.0,
            tie_embeddings=tie, qkv_bias=bias,
        )  # fmt: skip
        torch.manual_seed(0)
        full = create_llama_model(config).eval()
        sharded = shard_llama_model(copy.deepcopy(full), tp)
        assert sharded.decoder.layers[0].self_attn.k_proj.weight.shape[0] == 8 * 2 // tp.size
        seqs = torch.randint(1, 64, (2, 6), generator=torch.Generator().manual_seed(3))
        layout = BatchLayout(seq_lens=torch.tensor([6, 4]))
        with torch.no_grad():
            torch.testing.assert_close(
                sharded(seqs, layout), full(seqs, layout), atol=1e-5, rtol=1e-5
            )
            for model in (full, sharded):
                bag = IncrementalStateBag(max_num_steps=8)
                first = model(seqs[:, :3], state_bag=bag)
                bag.increment_step_nr(3)
                second = model(seqs[:, 3:4], state_bag=bag)
                if model is full:
                    want = (first, second)
            torch.testing.assert_close((first, second), want, atol=1e-5, rtol=1e-5)
        state = get_consolidated_state_dict(sharded, root, rank0_only=False)
        for key, value in full.state_dict().items():
            torch.testing.assert_close(state[key], value, msg=key)
        if tie:
            assert sharded.final_proj.weight is sharded.embed.weight
        checked.append({"tie": tie, "bias": bias})
    return {"llama": checked}


def world_gpu(rank: int, size: int, port: int, out_dir: Path) -> dict[str, Any]:
    """NCCL collectives, DDP and FSDP2 in bf16 on CUDA (one GPU per rank)."""
    import torch.distributed as dist

    from seqkit.gang import default_device

    env = {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(rank),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
    if size > 1:
        root = setup_gangs(env=env, timeout=120).root
    else:  # setup_gangs gives a FakeGang to a lone process; build the NCCL gang directly
        root = ProcessGroupGang.create_default(
            device=default_device(0), rank=0, size=1, init_method=f"tcp://127.0.0.1:{port}"
        )
    assert isinstance(root, ProcessGroupGang)
    assert root.device == torch.device("cuda", rank)
    assert "nccl" in str(dist.get_backend(root.process_group))
    check_collectives(root)

    torch.manual_seed(0)
    reference = TinyBlock().to(root.device)
    ids = torch.randint(1, 16, (4, 8), generator=torch.Generator().manual_seed(rank)).to(
        root.device
    )
    want = reference(ids).float()
    model = copy.deepcopy(reference)
    config = FsdpConfig(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
    model = to_fsdp(model, root, config, wrap=lambda _, m: isinstance(m, nn.Linear))
    logits = model(ids)
    assert logits.dtype == torch.bfloat16
    err = (logits.float() - want).abs().max().item()
    logits.float().square().mean().backward()
    grads_finite = all(bool(p.grad.full_tensor().isfinite().all()) for p in model.parameters())
    full = get_consolidated_state_dict(model, root, rank0_only=False)
    ddp = to_ddp(copy.deepcopy(reference), root)
    ddp(ids).square().mean().backward()
    root.close()
    return {"bf16_err": err, "grads_finite": grads_finite, "keys": len(full)}


def _tiny_llama() -> nn.Module:
    from seqkit.models.llama.config import LlamaConfig
    from seqkit.models.llama.factory import create_llama_model

    config = LlamaConfig(
        vocab_size=40, model_dim=16, num_layers=3, num_attn_heads=2, num_key_value_heads=2,
        ffn_inner_dim=32, max_seq_len=32,
    )  # fmt: skip
    return create_llama_model(config)


def _lm_steps(
    model: nn.Module, seqs: torch.Tensor
) -> tuple[list[float], str, torch.optim.Optimizer]:
    """AdamW over ``seqs`` ([steps, B, T]); the local loss of every step, then the dtype
    of the logits. The optimizer is built before any forward, as FSDP2 requires (the
    root's gathered bf16 parameters stand in for the shards between forward and backward)."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for batch in seqs:
        opt.zero_grad()
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.flatten(0, 1).float(), batch[:, 1:].flatten())
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses, str(logits.dtype), opt


def world_fsdp_layers(rank: int, size: int, port: int, out_dir: Path) -> dict[str, Any]:
    """2 ranks: the recipe's FSDP2 (one unit per transformer layer, then the root) trains
    llama exactly as root-only FSDP2 does; with train.dtype=bfloat16 the mixed-precision
    policy computes in bf16 while the parameters and optimizer state stay fp32, the trainer
    drops autocast, and a consolidated state dict restores the model exactly."""
    from torch.distributed.tensor import DTensor

    from seqkit.gang import fsdp_config, fsdp_units
    from seqkit.recipes.parallelism import parallelize
    from seqkit.recipes.run_context import RunContext
    from seqkit.trainer import Trainer, TrainerConfig
    from tests.trainer.toy import ToyReader, ToyTrainUnit, make_examples

    env = {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(rank),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
    gangs = setup_gangs(device=torch.device("cpu"), timeout=60, env=env)
    ctx = RunContext(output_dir=out_dir, gangs=gangs)
    torch.manual_seed(0)
    initial = copy.deepcopy(_tiny_llama().state_dict())
    g = torch.Generator().manual_seed(3)
    seqs = torch.randint(0, 40, (5, 2 * size, 9), generator=g)[:, 2 * rank : 2 * rank + 2]

    def fresh() -> nn.Module:
        model = _tiny_llama()
        model.load_state_dict(initial)
        return model

    root_only = to_fsdp(fresh(), gangs.dp)
    result: dict[str, Any] = {"root_only_units": fsdp_units(root_only)}
    result["root_only_losses"], _, _ = _lm_steps(root_only, seqs)

    per_layer = parallelize(fresh(), ctx, data_parallel="fsdp")
    result["units"] = fsdp_units(per_layer)
    result["fp32_policy"] = str(fsdp_config(per_layer).param_dtype)  # type: ignore[union-attr]
    result["losses"], _, _ = _lm_steps(per_layer, seqs)
    full = get_consolidated_state_dict(per_layer, gangs.root, rank0_only=False)
    reference = get_consolidated_state_dict(root_only, gangs.root, rank0_only=False)
    result["state_diff"] = max((full[k] - v).abs().max().item() for k, v in reference.items())

    mixed = parallelize(fresh(), ctx, data_parallel="fsdp", dtype="bfloat16")
    params = list(mixed.parameters())
    result["bf16_param_types"] = sorted(
        {f"{type(p).__name__}:{p.dtype}" for p in params}  # the optimizer's tensors
    )
    result["bf16_losses"], result["bf16_logits"], opt = _lm_steps(mixed, seqs)
    result["bf16_opt_params"] = sorted(
        {str(p.dtype) for grp in opt.param_groups for p in grp["params"]}
    )
    result["bf16_opt_state"] = sorted(
        {str(v.dtype) for s in opt.state.values() for k, v in s.items() if k != "step"}
    )
    result["bf16_grads"] = sorted({str(p.grad.dtype) for p in params if p.grad is not None})
    before_eval = get_consolidated_state_dict(mixed, gangs.root, rank0_only=False)
    with torch.no_grad():  # a validation pass leaves the root's bf16 parameters gathered
        mixed(seqs[0, :, :-1])
    mixed_full = get_consolidated_state_dict(mixed, gangs.root, rank0_only=False)
    result["bf16_eval_save_diff"] = max(
        (mixed_full[k] - v).abs().max().item() for k, v in before_eval.items()
    )
    result["bf16_saved"] = sorted({str(v.dtype) for v in mixed_full.values()})
    restored = parallelize(fresh(), ctx, data_parallel="fsdp", dtype="bfloat16")
    load_consolidated_state_dict(restored, mixed_full)
    probe = seqs[0, :, :-1]
    result["bf16_restore_diff"] = (restored(probe) - mixed(probe)).abs().max().item()
    assert all(isinstance(p, DTensor) for p in params)

    trainers = {}
    for name, model, dtype in (("bf16", mixed, "bfloat16"), ("fp32", per_layer, "float32"),
                               ("fsdp_fp16", per_layer, "float16")):  # fmt: skip
        trainer = Trainer(
            TrainerConfig(max_num_steps=1, dtype=dtype),
            ToyTrainUnit(model),
            ToyReader(make_examples(8), 2),
            torch.optim.SGD(model.parameters(), lr=0.1),
            gang=gangs.dp,
        )
        trainers[name] = type(trainer._autocast()).__name__
    result["autocast"] = trainers
    return result
