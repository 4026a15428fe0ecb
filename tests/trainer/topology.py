"""Spawned Gloo ranks for the topology-change resume tests."""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
import traceback
from pathlib import Path
from typing import Any

import torch

from seqkit.checkpoint.files import save_tensors


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def train_rank(rank: int, size: int, port: int, out_dir: Path, max_num_steps: int) -> None:
    """One rank of a DDP toy run over Gloo; writes its seen example ids and final weights."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    result: dict[str, Any]
    try:
        from seqkit.gang import ProcessGroupGang, to_ddp
        from seqkit.trainer import unwrap_model
        from tests.trainer.toy import build_trainer

        gang = ProcessGroupGang.create_default(
            device=torch.device("cpu"), rank=rank, size=size, init_method=f"tcp://127.0.0.1:{port}"
        )
        trainer = build_trainer(
            out_dir,
            gang=gang,
            max_num_steps=max_num_steps,
            batch_size=2,
            dropout=0.0,
            wrap=lambda m: to_ddp(m, gang),
        )
        summary = trainer.run()
        save_tensors(
            unwrap_model(trainer.unit.model).state_dict(), out_dir / f"final_rank{rank}.safetensors"
        )
        result = {
            "ok": True,
            "seen": trainer.unit.seen_ids,  # type: ignore[attr-defined]
            "resumed_from": summary.resumed_from,
            "step": summary.step,
        }
        gang.close()
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    os._exit(0)  # a rank whose peer died must not block in atexit hooks


def fsdp_rank(rank: int, size: int, port: int, out_dir: Path, max_num_steps: int) -> None:
    """FSDP over 2 ranks: an uninterrupted run, then a run stopped at half and resumed."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    result: dict[str, Any]
    try:
        from seqkit.gang import ProcessGroupGang, get_consolidated_state_dict, to_fsdp
        from tests.trainer.toy import build_trainer

        gang = ProcessGroupGang.create_default(
            device=torch.device("cpu"), rank=rank, size=size, init_method=f"tcp://127.0.0.1:{port}"
        )
        plan = [("reference", max_num_steps), ("resumed", max_num_steps // 2)]
        plan.append(("resumed", max_num_steps))
        resumed_from = []
        for name, steps in plan:
            trainer = build_trainer(
                out_dir / name,
                gang=gang,
                max_num_steps=steps,
                checkpoint_every=None,
                batch_size=2,
                schedule_steps=20,
                wrap=lambda m: to_fsdp(m, gang),
            )
            resumed_from.append(trainer.run().resumed_from)
            full = get_consolidated_state_dict(trainer.unit.model, gang)
            if rank == 0:
                save_tensors(full, out_dir / name / "final.safetensors")
        result = {"ok": True, "resumed_from": resumed_from}
        gang.close()
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    os._exit(0)


def fsdp_stop_rank(rank: int, size: int, port: int, out_dir: Path, max_num_steps: int) -> None:
    """FSDP over ``size`` ranks without dropout: an uninterrupted run to ``max_num_steps``
    (weights in ``reference/``), and a run stopped at half with a checkpoint (``stopped/``)."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    result: dict[str, Any]
    try:
        from seqkit.gang import ProcessGroupGang, get_consolidated_state_dict, to_fsdp
        from tests.trainer.toy import build_trainer

        gang = ProcessGroupGang.create_default(
            device=torch.device("cpu"), rank=rank, size=size, init_method=f"tcp://127.0.0.1:{port}"
        )
        for name, steps in [("reference", max_num_steps), ("stopped", max_num_steps // 2)]:
            trainer = build_trainer(
                out_dir / name,
                gang=gang,
                max_num_steps=steps,
                checkpoint_every=None,
                batch_size=2,
                dropout=0.0,
                schedule_steps=20,
                validate_every_n_steps=3,  # a forward without backward right before the checkpoint
                wrap=lambda m: to_fsdp(m, gang),
            )
            trainer.run()
            full = get_consolidated_state_dict(trainer.unit.model, gang)
            if rank == 0:
                save_tensors(full, out_dir / name / "final.safetensors")
        result = {"ok": True}
        gang.close()
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    os._exit(0)


def run_ranks(
    size: int, out_dir: Path, max_num_steps: int, target: Any = train_rank
) -> list[dict[str, Any]]:
    """Run ``size`` ranks to ``max_num_steps`` (resuming from ``out_dir``) and collect results."""
    port = free_port()
    ctx = mp.get_context("spawn")
    procs = [
        ctx.Process(target=target, args=(rank, size, port, out_dir, max_num_steps))
        for rank in range(size)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
        if proc.is_alive():
            proc.kill()
    results = []
    for rank in range(size):
        path = out_dir / f"rank{rank}.json"
        assert path.is_file(), f"rank {rank} reported nothing"
        result = json.loads(path.read_text())
        assert result["ok"], result.get("tb")
        results.append(result)
        path.unlink()
    return results
