"""Training readers on real Gloo ranks: equal batch counts (a collective per step, as DDP
does, would hang otherwise) and positions carried 2 -> 1 and 1 -> 2 with every window read
exactly once per epoch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from seqkit.data import ReaderOptions, TokenDataset, lm_reader, write_tokens
from seqkit.gang import ReduceOperation, setup_gangs

from ..gang.world import run_world

pytestmark = pytest.mark.distributed

SEQ_LEN = 8
BATCH = 2


def _dataset(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    # Token ids are their own positions, so a row's first id names its window.
    total = 1 + SEQ_LEN * 101
    lengths = []
    left = total
    while left:
        n = min(left, int(rng.integers(1, 30)))
        lengths.append(n)
        left -= n
    ids = np.arange(total) % 60000
    docs, start = [], 0
    for n in lengths:
        docs.append(ids[start : start + n])
        start += n
    write_tokens(tmp_path / "ds", docs)
    return tmp_path / "ds"


def _windows(batch: Any) -> list[int]:
    return [int(row[0]) // SEQ_LEN for row in batch.seqs.tolist()]


def read_steps(rank: int, size: int, port: int, out_dir: Path) -> dict[str, Any]:
    """Read ``steps`` steps (all of the epoch when absent), all-reducing once per step."""
    env = {"RANK": str(rank), "WORLD_SIZE": str(size), "LOCAL_RANK": str(rank),
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}  # fmt: skip
    job = json.loads((out_dir / "job.json").read_text())
    gangs = setup_gangs(env=env, timeout=60, device=torch.device("cpu"))
    dp = gangs.dp
    dataset = TokenDataset.open(job["dataset"])
    reader = lm_reader([dataset], seq_len=SEQ_LEN, batch_size=BATCH,
                       options=ReaderOptions(seed=7, rank=dp.rank, world_size=dp.size))  # fmt: skip
    if job.get("state") is not None:
        reader.load_global_state_dict(job["state"])
    seen: list[int] = []
    steps = 0
    for batch in reader:
        seen += _windows(batch)
        count = torch.ones(1)
        dp.all_reduce(count, ReduceOperation.SUM)  # a per-step collective, like DDP's
        steps += 1
        if job.get("steps") is not None and steps == job["steps"]:
            break
    return {"seen": seen, "steps": steps, "state": reader.global_state_dict()}


def _run(tmp_path: Path, size: int, job: dict[str, Any]) -> list[dict[str, Any]]:
    work = tmp_path / f"run{size}_{len(list(tmp_path.glob('run*')))}"
    work.mkdir()
    (work / "job.json").write_text(json.dumps(job))
    return run_world(read_steps, size, work)


@pytest.mark.parametrize(("before", "after"), [(2, 1), (1, 2)])
def test_positions_carry_to_another_world_size(tmp_path: Path, before: int, after: int) -> None:
    dataset = str(_dataset(tmp_path))
    first = _run(tmp_path, before, {"dataset": dataset, "steps": 7})
    assert len({r["steps"] for r in first}) == 1
    state = first[0]["state"]
    assert all(r["state"] == state for r in first)
    second = _run(tmp_path, after, {"dataset": dataset, "state": state})
    assert len({r["steps"] for r in second}) == 1  # every rank the same number of batches
    seen = [w for r in first + second for w in r["seen"]]
    assert len(seen) == len(set(seen))  # nothing read twice
    windows = (SEQ_LEN * 101) // SEQ_LEN
    usable = windows - windows % BATCH
    # Only the incomplete last group of `after` batches may be left out.
    assert usable - len(seen) < after * BATCH
