"""Topology-independent resume: a 2-rank checkpoint resumes on 1 rank and vice versa (Gloo)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from seqkit.checkpoint.files import load_object, load_tensors
from seqkit.gang.optimizer_state import is_consolidated_optimizer_state
from seqkit.trainer import unwrap_model
from tests.trainer.topology import fsdp_rank, fsdp_stop_rank, run_ranks
from tests.trainer.toy import ToyReader, build_trainer, make_examples

pytestmark = [pytest.mark.distributed, pytest.mark.slow]


def _epoch0_order(count: int) -> list[int]:
    reader = ToyReader(make_examples(40), batch_size=count)
    return next(iter(reader))["ids"].tolist()


def test_two_ranks_resume_on_one(tmp_path: Path) -> None:
    first = run_ranks(2, tmp_path, max_num_steps=3)
    assert all(r["resumed_from"] is None for r in first)
    # DDP math: 2 ranks x batch 2 must match 1 rank x batch 4 on the same examples.
    single = build_trainer(None, max_num_steps=3, batch_size=4, dropout=0.0)
    single.run()
    two_rank = load_tensors(tmp_path / "final_rank0.safetensors")
    for name, value in unwrap_model(single.unit.model).state_dict().items():
        torch.testing.assert_close(two_rank[name], value, rtol=1e-5, atol=1e-6)

    resumed = build_trainer(tmp_path, max_num_steps=6, batch_size=2, dropout=0.0)
    summary = resumed.run()
    assert summary.resumed_from == 3
    seen = first[0]["seen"] + first[1]["seen"] + resumed.unit.seen_ids  # type: ignore[attr-defined]
    assert sorted(seen) == sorted(_epoch0_order(18))  # nothing skipped, nothing repeated
    assert len(set(seen)) == 18


def test_one_rank_resumes_on_two(tmp_path: Path) -> None:
    first = build_trainer(tmp_path, max_num_steps=3, batch_size=2, dropout=0.0)
    first.run()
    weights = {k: v.clone() for k, v in unwrap_model(first.unit.model).state_dict().items()}
    results = run_ranks(2, tmp_path, max_num_steps=6)
    assert [r["resumed_from"] for r in results] == [3, 3]
    seen = first.unit.seen_ids + results[0]["seen"] + results[1]["seen"]  # type: ignore[attr-defined]
    assert sorted(seen) == sorted(_epoch0_order(18))
    assert len(set(seen)) == 18
    rank0 = load_tensors(tmp_path / "final_rank0.safetensors")
    rank1 = load_tensors(tmp_path / "final_rank1.safetensors")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name])  # replicas stay in sync
        assert not torch.equal(rank0[name], weights[name])  # and kept training


def test_fsdp_sharded_optimizer_resumes_bitwise(tmp_path: Path) -> None:
    """DTensor parameters: consolidated model, per-rank optimizer shards, exact resume."""
    results = run_ranks(2, tmp_path, max_num_steps=6, target=fsdp_rank)
    assert [r["resumed_from"] for r in results] == [[None, None, 3]] * 2
    manifest = (tmp_path / "resumed" / "checkpoints" / "step_6" / "manifest.json").read_text()
    assert '"world_size": 2' in manifest
    expected = load_tensors(tmp_path / "reference" / "final.safetensors")
    resumed = load_tensors(tmp_path / "resumed" / "final.safetensors")
    assert expected.keys() == resumed.keys()
    for name, value in expected.items():
        assert torch.equal(resumed[name], value), name


def test_fsdp_checkpoint_resumes_on_one_rank(tmp_path: Path) -> None:
    """FSDP optimizer state is consolidated: 2 FSDP ranks -> 1 plain process, no drift."""
    run_ranks(2, tmp_path, max_num_steps=6, target=fsdp_stop_rank)
    resumed = build_trainer(
        tmp_path / "stopped", max_num_steps=6, batch_size=4, dropout=0.0, schedule_steps=20
    )
    assert resumed.run().resumed_from == 3
    expected = load_tensors(tmp_path / "reference" / "final.safetensors")
    weights = unwrap_model(resumed.unit.model).state_dict()
    assert expected.keys() == weights.keys()
    for name, value in expected.items():
        torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6)
    # The checkpoint holds full (not per-rank) optimizer moments, keyed by parameter name.
    optimizer = load_object(tmp_path / "stopped" / "checkpoints" / "step_3" / "optimizer.pt")
    assert is_consolidated_optimizer_state(optimizer)
    moments = optimizer["state"]
    assert set(moments) == set(expected)
    for name, value in expected.items():
        assert moments[name]["exp_avg"].shape == value.shape, name
