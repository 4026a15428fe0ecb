"""Real multi-process worlds over Gloo on loopback (no mocks)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.gang import workers
from tests.gang.world import free_port, run_world

pytestmark = pytest.mark.distributed


def test_four_ranks_collectives_subgangs_tensor_parallel_and_llama(tmp_path: Path) -> None:
    results = run_world(workers.world_four, 4, tmp_path)
    assert [r["in_sub"] for r in results] == [False, True, False, True]
    for rank in (1, 3):
        assert results[rank]["sub_broadcast"] == 3.0
        assert results[rank]["sub_sum"] == 4.0
    assert results[1]["inner"] is None
    assert results[3]["inner"] == [0, 1]
    assert [r["tp"] for r in results] == [[0, 1], [0, 1], [2, 3], [2, 3]]
    assert [r["dp"] for r in results] == [[0, 2], [1, 3], [0, 2], [1, 3]]
    assert all(r["local_q_rows"] == 4 for r in results)
    assert results[0]["replaced"] == list(workers.TINY_PLAN)
    assert all(len(r["llama"]) == 2 for r in results)  # llama tp_size=2 equals tp_size=1
    assert all(r["tp_dp_diff"] < 1e-5 for r in results)  # TP x DP training == one process


def test_two_ranks_from_slurm_ddp_fsdp_state_dicts_and_failures(tmp_path: Path) -> None:
    port = free_port()
    while port < 20000:  # the SLURM path derives the port from the job id (20000 + id)
        port = free_port()
    results = run_world(workers.world_two, 2, tmp_path, port=port)
    assert [(r["rank"], r["size"]) for r in results] == [(0, 2), (1, 2)]
    for r in results:
        assert r["ddp_diff"] < 1e-5
        assert r["fsdp_diff"] < 1e-5
        assert r["shard_rows"] == 8  # 16 rows of the first Linear, split over 2 ranks
        assert r["bf16_dtype"] == "torch.bfloat16"
        assert r["bf16_err"] < 5e-2
    assert [r["rank0_only_empty"] for r in results] == [False, True]

    # Rank 1 hung, then died: rank 0 failed with the operation and rank named, no hang.
    errors = results[0]["errors"]
    assert set(errors) == {"stuck", "dead"}
    for error in errors.values():
        assert error["operation"] == "all_reduce"
        assert error["rank"] == 0
        assert "`all_reduce` failed on rank 0 of 2" in error["message"]
    assert f"timed out after {workers.FAIL_TIMEOUT_S} s" in errors["stuck"]["message"]


def test_fsdp_per_layer_units_equal_root_only_and_bf16_policy(tmp_path: Path) -> None:
    results = run_world(workers.world_fsdp_layers, 2, tmp_path)
    for r in results:
        assert r["root_only_units"] == [""]
        assert r["units"] == ["decoder.layers.0", "decoder.layers.1", "decoder.layers.2", ""]
        assert r["fp32_policy"] == "None"
        # Per-layer units change only when parameters are gathered, not the arithmetic.
        assert r["losses"] == pytest.approx(r["root_only_losses"], rel=1e-5, abs=1e-6)
        assert r["state_diff"] < 1e-5
        # bf16 policy: fp32 DTensor shards in the optimizer (state too), bf16 compute.
        assert r["bf16_param_types"] == ["DTensor:torch.float32"]
        assert r["bf16_opt_params"] == r["bf16_opt_state"] == ["torch.float32"]
        assert r["bf16_grads"] == ["torch.float32"]
        assert r["bf16_saved"] == ["torch.float32"]
        assert r["bf16_eval_save_diff"] == 0.0  # saved from the fp32 shards after eval too
        assert r["bf16_logits"] == "torch.bfloat16"
        assert r["bf16_losses"] == pytest.approx(r["losses"], rel=5e-2)
        assert r["bf16_restore_diff"] == 0.0
        # The policy replaces autocast; without a bf16 policy the trainer keeps autocast.
        assert r["autocast"] == {
            "bf16": "nullcontext",
            "fp32": "nullcontext",
            "fsdp_fp16": "autocast",
        }
