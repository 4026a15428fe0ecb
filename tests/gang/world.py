"""Spawns a real multi-process world (Gloo over loopback) for the distributed tests."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

Worker = Callable[[int, int, int, Path], dict[str, Any]]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _entry(worker: Worker, rank: int, size: int, port: int, out_dir: Path) -> None:
    # One thread per process: 2-4 ranks share 2 busy cores.
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        result = {"ok": True, **worker(rank, size, port, out_dir)}
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    # Skip interpreter teardown: a rank whose peer died must not block in atexit hooks.
    os._exit(0)


def run_world(
    worker: Worker,
    size: int,
    tmp_path: Path,
    *,
    port: int | None = None,
    limit_s: float = 120,
) -> list[dict[str, Any]]:
    """Run ``worker(rank, size, port, out_dir)`` in ``size`` spawned processes and return
    each rank's result dict; a rank that raised or never reported fails the test (a rank
    may write its own ``rank{N}.json`` early, before it crashes on purpose)."""
    port = port or free_port()
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=_entry, args=(worker, rank, size, port, tmp_path), daemon=True)
        for rank in range(size)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(limit_s)
    for proc in procs:
        if proc.is_alive():
            proc.kill()
            proc.join()
    results: list[dict[str, Any]] = []
    for rank in range(size):
        path = tmp_path / f"rank{rank}.json"
        assert path.exists(), f"rank {rank} reported nothing (exit code {procs[rank].exitcode})"
        result = json.loads(path.read_text())
        assert result["ok"], f"rank {rank} failed: {result['error']}\n{result['tb']}"
        results.append(result)
    return results
