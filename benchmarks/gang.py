"""Gang collectives vs raw torch.distributed, 2 Gloo ranks on loopback, same run.

1. ``ProcessGroupGang.all_reduce`` vs ``torch.distributed.all_reduce`` on the same group
   (the gang's error wrapping must cost nothing measurable).
2. ``ProcessGroupGang.all_gather`` vs
   ``torch.distributed.all_gather_single``.
3. A tensor-parallel SwiGLU FFN on 2 ranks vs the same FFN whole on one rank (on CPU this
   shows communication overhead, not speedup: both ranks share the machine's cores).

Ratios = baseline time / seqkit time (1.0 = same speed, < 1 slower). Best of R repeats,
interleaved. Usage: ``python benchmarks/gang.py [--quick]``
"""

from __future__ import annotations

import argparse
import socket
import time
import warnings
from collections.abc import Callable
from datetime import timedelta

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F
from torch import nn

from seqkit.gang import ProcessGroupGang, ReduceOperation, ShardKind, shard_modules


def _compare(
    base: Callable[[], object],
    ours: Callable[[], object],
    iters: int,
    repeats: int,
    gang: ProcessGroupGang,
) -> tuple[float, float]:
    """Best seconds per call of ``base`` and ``ours``, measured alternately so that load
    from other processes hits both alike."""
    base(), ours()  # warm-up: first calls set up buffers and connections
    best = [float("inf"), float("inf")]
    for _ in range(repeats):
        for i, fn in enumerate((base, ours)):
            gang.barrier()
            start = time.perf_counter()
            for _ in range(iters):
                fn()
            best[i] = min(best[i], (time.perf_counter() - start) / iters)
    return best[0], best[1]


class _Ffn(nn.Module):
    def __init__(self, dim: int, inner: int) -> None:
        super().__init__()
        self.gate, self.inner = nn.Linear(dim, inner, bias=False), nn.Linear(dim, inner, bias=False)
        self.out = nn.Linear(inner, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(F.silu(self.gate(x)) * self.inner(x))


def _worker(rank: int, port: int, quick: bool, queue: mp.Queue) -> None:  # type: ignore[type-arg]
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    gang = ProcessGroupGang.create_default(
        device=torch.device("cpu"), timeout=timedelta(seconds=120), rank=rank, size=2,
        init_method=f"tcp://127.0.0.1:{port}",
    )  # fmt: skip
    group = gang.process_group
    repeats = 3 if quick else 7
    rows = []
    for numel in (256, 1 << 18, 1 << 22):
        iters = max(2, (50 if quick else 200) * 256 // max(256, numel // 256))
        t = torch.ones(numel)
        base, ours = _compare(
            lambda: dist.all_reduce(t, group=group),  # noqa: B023
            lambda: gang.all_reduce(t, ReduceOperation.SUM),  # noqa: B023
            iters,
            repeats,
            gang,
        )
        rows.append((f"all_reduce {numel * 4 / 1024:.0f} KiB", base, ours))
        out = torch.empty(2 * numel)
        base, ours = _compare(
            lambda: dist.all_gather_single(out, t, group=group),  # noqa: B023
            lambda: gang.all_gather(out, t),  # noqa: B023
            iters,
            repeats,
            gang,
        )
        rows.append((f"all_gather {numel * 4 / 1024:.0f} KiB", base, ours))

    torch.manual_seed(0)
    whole = _Ffn(256, 1024)
    sharded = _Ffn(256, 1024)
    sharded.load_state_dict(whole.state_dict())
    plan = {"gate": ShardKind.COLUMN, "inner": ShardKind.COLUMN, "out": ShardKind.ROW}
    shard_modules(sharded, gang, plan)
    x = torch.randn(8, 64, 256)
    with torch.no_grad():
        iters = 5 if quick else 20
        base, ours = _compare(lambda: whole(x), lambda: sharded(x), iters, repeats, gang)
        torch.testing.assert_close(sharded(x), whole(x), atol=1e-4, rtol=1e-4)
    rows.append(("TP FFN forward, 2 ranks vs 1", base, ours))
    gang.barrier()
    if rank == 0:
        queue.put(rows)
        queue.close()
        queue.join_thread()  # flush before the process ends
    gang.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, port, args.quick, queue)) for r in range(2)]
    for proc in procs:
        proc.start()
    rows = queue.get(timeout=600)
    for proc in procs:
        proc.join()
    print(f"{'benchmark':34} {'baseline ms':>12} {'seqkit ms':>10} {'ratio':>6}")
    for name, base, ours in rows:
        print(f"{name:34} {base * 1e3:12.3f} {ours * 1e3:10.3f} {base / ours:6.2f}")


if __name__ == "__main__":
    main()
