from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import pytest
import torch
from torch import Tensor

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.gang import FakeGang
from seqkit.metrics import JsonlRecorder
from seqkit.trainer import (
    EarlyStoppingConfig,
    NonFiniteError,
    ProfilerConfig,
    TrainerConfig,
    TrainerConfigError,
    TrainerError,
    unwrap_model,
)
from tests.trainer.toy import Batch, ToyTrainUnit, build_trainer


def _weights(trainer: object) -> dict[str, Tensor]:
    model = unwrap_model(trainer.unit.model)  # type: ignore[attr-defined]
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


class NaNAt(ToyTrainUnit):
    """Returns a NaN loss on the given 1-based calls."""

    def __init__(self, model: torch.nn.Module, bad_calls: set[int]) -> None:
        super().__init__(model)
        self.bad_calls, self.calls = bad_calls, 0

    def __call__(self, batch: Batch) -> tuple[Tensor, int]:
        self.calls += 1
        loss, n = super().__call__(batch)
        return (loss * math.nan if self.calls in self.bad_calls else loss), n


def test_grad_accumulation_matches_one_big_batch() -> None:
    big = build_trainer(None, max_num_steps=4, dropout=0.0, batch_size=4)
    big.run()
    small = build_trainer(None, max_num_steps=4, dropout=0.0, batch_size=2, grad_accumulation=2)
    small.run()
    assert small.unit.seen_ids == big.unit.seen_ids  # type: ignore[attr-defined]
    for name, value in _weights(big).items():
        torch.testing.assert_close(_weights(small)[name], value, rtol=1e-5, atol=1e-6)


def test_nonfinite_loss_stops_before_the_optimizer_touches_weights() -> None:
    trainer = build_trainer(None, max_num_steps=6)
    trainer.unit = NaNAt(trainer.unit.model, {4})
    before: dict[str, Tensor] = {}

    original = trainer._train_step

    def spy(*, stop_flag: bool) -> object:
        before.update(_weights(trainer))
        return original(stop_flag=stop_flag)

    trainer._train_step = spy  # type: ignore[method-assign]
    with pytest.raises(NonFiniteError, match=r"step 4 on rank 0") as info:
        trainer.run()
    assert info.value.step == 4
    assert info.value.ranks == [0]
    assert trainer.step == 3
    for name, value in _weights(trainer).items():
        assert torch.equal(value, before[name]), name


def test_nonfinite_skip_policy_counts_then_stops_after_k_in_a_row(tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(None, max_num_steps=5, max_consecutive_nonfinite=2, recorders=[jsonl])
    trainer.unit = NaNAt(trainer.unit.model, {2, 3})
    summary = trainer.run()
    assert summary.step == 5
    assert summary.num_skipped_steps == 2
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert rows[-1]["skipped_steps"] == 2

    trainer = build_trainer(None, max_num_steps=5, max_consecutive_nonfinite=2)
    trainer.unit = NaNAt(trainer.unit.model, {2, 3, 4})
    with pytest.raises(NonFiniteError, match="3 in a row"):
        trainer.run()


def test_nonfinite_grad_norm_is_caught() -> None:
    trainer = build_trainer(None, max_num_steps=3)
    weight = unwrap_model(trainer.unit.model).hidden.weight
    weight.register_hook(lambda g: g * math.inf)
    with pytest.raises(NonFiniteError, match="gradient norm at step 1"):
        trainer.run()


def test_clipping_records_the_unclipped_norm(tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(None, max_num_steps=3, max_grad_norm=1e-3, recorders=[jsonl])
    trainer.run()
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert all(row["grad_norm"] > 1e-3 for row in rows)


def test_max_epochs_and_validation(tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(
        tmp_path,
        max_num_steps=None,
        max_num_epochs=2,
        checkpoint_every=None,
        validate_every_n_steps=7,
        recorders=[jsonl],
    )
    summary = trainer.run()
    assert summary.stop_reason == "max_epochs"
    assert summary.step == 20  # 40 examples / batch 4 = 10 steps an epoch
    assert summary.epoch == 2
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if r["section"] == "valid"] == [7, 14, 20]
    assert StandardCheckpointManager(tmp_path / "checkpoints", FakeGang()).committed_steps() == [20]


def test_early_stopping_on_a_stalled_metric() -> None:
    trainer = build_trainer(
        None,
        max_num_steps=50,
        validate_every_n_steps=1,
        early_stopping=EarlyStoppingConfig(patience=2, min_delta=10.0),
    )
    summary = trainer.run()
    # Step 1 sets the best; no later validation improves by 10 nats.
    assert summary.stop_reason == "early_stopping"
    assert summary.step == 3


def test_wall_time_budget_checkpoints_and_stops(tmp_path: Path) -> None:
    trainer = build_trainer(tmp_path, max_num_steps=100, max_wall_time_s=1e-9)
    summary = trainer.run()
    assert summary.stop_reason == "wall_time"
    assert summary.step == 1
    assert (tmp_path / "checkpoints" / "step_1" / "manifest.json").is_file()


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_dtypes_train(dtype: str, tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(None, max_num_steps=6, dtype=dtype, recorders=[jsonl])
    trainer.run()
    rows = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["loss"]) for r in rows)
    assert ("grad_scale" in rows[0]) == (dtype == "float16")
    assert (trainer.grad_scaler is not None) == (dtype == "float16")


def test_resume_restores_grad_scaler_and_counters(tmp_path: Path) -> None:
    first = build_trainer(tmp_path, max_num_steps=4, dtype="float16")
    first.run()
    scale = first.grad_scaler.get_scale()  # type: ignore[union-attr]
    second = build_trainer(tmp_path, max_num_steps=6, dtype="float16")
    summary = second.run()
    assert summary.resumed_from == 4
    assert summary.step == 6
    assert second.grad_scaler is not None
    assert second.grad_scaler.get_scale() >= scale / 2


def test_profiler_window_writes_a_trace(tmp_path: Path) -> None:
    profile = ProfilerConfig(output_dir=tmp_path / "prof", skip_steps=1, active_steps=1)
    build_trainer(None, max_num_steps=4, profiler=profile).run()
    assert list((tmp_path / "prof").glob("*.json"))


def test_signal_handlers_are_restored() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    build_trainer(None, max_num_steps=2).run()
    assert signal.getsignal(signal.SIGTERM) is previous


def test_resume_with_another_topology_needs_a_global_reader(tmp_path: Path) -> None:
    build_trainer(tmp_path, max_num_steps=3).run()
    trainer = build_trainer(tmp_path, max_num_steps=6)
    loaded = trainer.checkpoint_manager.load_latest()  # type: ignore[union-attr]
    assert loaded is not None
    loaded.rank = None  # as if written by another world size

    class PlainReader:
        def __iter__(self):  # type: ignore[no-untyped-def]
            return iter([])

        def reset(self) -> None: ...

        def state_dict(self) -> dict[str, object]:
            return {}

        def load_state_dict(self, state: object) -> None: ...

    trainer.reader = PlainReader()  # type: ignore[assignment]
    with pytest.raises(TrainerError, match="another topology"):
        trainer.load_state(loaded)


def test_config_validation() -> None:
    with pytest.raises(TrainerConfigError, match="max_num_steps"):
        TrainerConfig()
    with pytest.raises(TrainerConfigError, match="grad_accumulation"):
        TrainerConfig(max_num_steps=1, grad_accumulation=0)
    with pytest.raises(TrainerConfigError, match="early_stopping"):
        TrainerConfig(max_num_steps=1, early_stopping=EarlyStoppingConfig())


def test_elapsed_time_carries_over_a_resume_for_the_wall_budget(tmp_path: Path) -> None:
    build_trainer(tmp_path, max_num_steps=3, checkpoint_every=2).run()
    manager = StandardCheckpointManager(tmp_path / "checkpoints", FakeGang())
    mid = manager.load_latest()
    assert mid is not None
    assert mid.trainer["elapsed_s"] > 0.0  # type: ignore[operator]
    trainer = build_trainer(tmp_path, max_num_steps=10, max_wall_time_s=1e-6)
    summary = trainer.run()
    # The budget is already spent by the first run: one step (already started) and stop.
    assert summary.resumed_from == 3
    assert summary.stop_reason == "wall_time"
    assert summary.step == 4
