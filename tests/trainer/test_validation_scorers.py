"""Validation scorers: extra validation metrics recorded, early stopping and keep-best on them."""

from __future__ import annotations

import json
import math
import os
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import torch

from seqkit.checkpoint import StandardCheckpointManager
from seqkit.checkpoint.manifest import read_manifest
from seqkit.gang import FakeGang, Gang, ReduceOperation
from seqkit.metrics import JsonlRecorder
from seqkit.trainer import (
    EarlyStoppingConfig,
    Trainer,
    TrainerConfigError,
    TrainerError,
    ValidationScorer,
)
from tests.trainer.topology import run_ranks
from tests.trainer.toy import build_trainer, make_examples


class NextTokenAccuracy(ValidationScorer):
    """Greedy next-token accuracy (percent) on fixed examples; each rank scores a shard."""

    def __init__(self, model: torch.nn.Module, *, rank0_only: bool = False) -> None:
        self.model = model
        self.examples = make_examples(12, seed=7)
        self.rank0_only = rank0_only
        self.calls: list[tuple[int, bool]] = []

    def __call__(self, step: int, gang: Gang) -> Mapping[str, float]:
        self.calls.append((step, self.model.training))
        if self.rank0_only:
            if gang.rank != 0:
                return {"accuracy": math.nan}
            mine = self.examples
        else:
            mine = self.examples[gang.rank :: gang.size]
        preds = self.model(mine[:, :-1]).argmax(-1)
        counts = torch.tensor(
            [float((preds == mine[:, 1:]).sum()), float(mine[:, 1:].numel())], device=gang.device
        )
        if not self.rank0_only:
            gang.all_reduce(counts, ReduceOperation.SUM)
        return {"accuracy": 100.0 * float(counts[0] / counts[1])}


def _with_scorer(trainer: Trainer[Any], **kwargs: Any) -> NextTokenAccuracy:
    scorer = NextTokenAccuracy(trainer.unit.model, **kwargs)
    trainer.valid_scorers = [scorer]
    return scorer


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scorer_metrics_join_every_validation(tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(None, max_num_steps=10, validate_every_n_steps=4, recorders=[jsonl])
    scorer = _with_scorer(trainer)
    summary = trainer.run()
    jsonl.close()
    valid = [r for r in _rows(tmp_path / "m.jsonl") if r["section"] == "valid"]
    assert [r["step"] for r in valid] == [4, 8, 10]
    assert all(0.0 <= r["accuracy"] <= 100.0 and "loss" in r for r in valid)
    # Called once per validation, with the step, the model in eval mode.
    assert scorer.calls == [(4, False), (8, False), (10, False)]
    assert trainer.unit.model.training
    assert summary.valid_metrics["accuracy"] == valid[-1]["accuracy"]


def test_early_stopping_and_keep_best_on_a_higher_is_better_metric(tmp_path: Path) -> None:
    jsonl = JsonlRecorder(tmp_path / "m.jsonl")
    trainer = build_trainer(
        tmp_path,
        max_num_steps=60,
        checkpoint_every=1,
        validate_every_n_steps=1,
        recorders=[jsonl],
        best_checkpoint_metric="accuracy",
        best_checkpoint_mode="max",
        early_stopping=EarlyStoppingConfig(metric="accuracy", mode="max", patience=2),
    )
    trainer.checkpoint_manager = StandardCheckpointManager(
        tmp_path / "checkpoints", FakeGang(), keep_last_n=1, keep_best_n=1
    )
    _with_scorer(trainer)
    summary = trainer.run()
    jsonl.close()
    accuracy = {r["step"]: r["accuracy"] for r in _rows(tmp_path / "m.jsonl") if "accuracy" in r}
    steps = sorted(accuracy)
    assert summary.stop_reason == "early_stopping"
    assert summary.step == steps[-1] < 60
    # Stopped after two validations in a row that did not beat the best before them.
    best_before = max(accuracy[s] for s in steps[:-2])
    assert accuracy[steps[-1]] <= best_before
    assert accuracy[steps[-2]] <= best_before
    # Keep-best kept the checkpoint of the (first) highest accuracy, stored negated.
    best_step = next(s for s in steps if accuracy[s] == max(accuracy.values()))
    manager = StandardCheckpointManager(tmp_path / "checkpoints", FakeGang())
    assert manager.committed_steps() == sorted({best_step, summary.step})
    manifest = read_manifest(manager.step_dir(best_step), verify=False)
    assert manifest.score == -accuracy[best_step]


def test_only_checkpoints_at_a_validation_step_are_scored(tmp_path: Path) -> None:
    # Validation at 3 and 6, checkpoints at 2, 4 and 6: the checkpoint of step 4 must not
    # carry step 3's loss (those were other weights), or keep-best could keep it wrongly.
    trainer = build_trainer(tmp_path, max_num_steps=6, checkpoint_every=2, validate_every_n_steps=3)
    trainer.checkpoint_manager = StandardCheckpointManager(
        tmp_path / "checkpoints", FakeGang(), keep_last_n=None
    )
    trainer.run()
    manager = StandardCheckpointManager(tmp_path / "checkpoints", FakeGang())
    scores = {
        step: read_manifest(manager.step_dir(step), verify=False).score
        for step in manager.committed_steps()
    }
    assert scores[2] is None
    assert scores[4] is None
    assert scores[6] is not None
    assert manager.best_step() == 6


def test_scorer_errors_are_pointed() -> None:
    class Clashing(ValidationScorer):
        def __call__(self, step: int, gang: Gang) -> Mapping[str, float]:
            return {"loss": 0.0}

    trainer = build_trainer(None, max_num_steps=2, validate_every_n_steps=1)
    trainer.valid_scorers = [Clashing()]
    with pytest.raises(TrainerError, match="records"):
        trainer.run()
    trainer = build_trainer(
        None, max_num_steps=2, validate_every_n_steps=1, best_checkpoint_metric="bleu"
    )
    trainer._validate()
    with pytest.raises(TrainerError, match="best_checkpoint_metric 'bleu'"):
        trainer._checkpoint_score()
    with pytest.raises(TrainerConfigError, match="best_checkpoint_mode"):
        build_trainer(None, best_checkpoint_mode="highest")


def scorer_rank(rank: int, size: int, port: int, out_dir: Path, max_num_steps: int) -> None:
    """A DDP rank whose scorer computes on rank 0 only; the others must agree with it."""
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)
    result: dict[str, Any]
    try:
        from seqkit.gang import ProcessGroupGang, to_ddp

        gang = ProcessGroupGang.create_default(
            device=torch.device("cpu"), rank=rank, size=size, init_method=f"tcp://127.0.0.1:{port}"
        )
        trainer = build_trainer(
            None,
            gang=gang,
            max_num_steps=max_num_steps,
            batch_size=2,
            dropout=0.0,
            validate_every_n_steps=1,
            early_stopping=EarlyStoppingConfig(metric="accuracy", mode="max", patience=1),
            wrap=lambda m: to_ddp(m, gang),
        )
        from seqkit.trainer import unwrap_model

        trainer.valid_scorers = [
            NextTokenAccuracy(unwrap_model(trainer.unit.model), rank0_only=True),
            _Sharded(unwrap_model(trainer.unit.model)),
        ]
        summary = trainer.run()
        result = {"ok": True, "step": summary.step, "valid": summary.valid_metrics}
        gang.close()
    except BaseException as ex:  # reported to the parent, which fails the test
        result = {"ok": False, "error": f"{type(ex).__name__}: {ex}", "tb": traceback.format_exc()}
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))
    os._exit(0)


class _Sharded(NextTokenAccuracy):
    def __call__(self, step: int, gang: Gang) -> Mapping[str, float]:
        return {"sharded_accuracy": NextTokenAccuracy.__call__(self, step, gang)["accuracy"]}


@pytest.mark.distributed
def test_two_ranks_agree_on_rank0_scores_and_stop_together(tmp_path: Path) -> None:
    results = run_ranks(2, tmp_path, max_num_steps=40, target=scorer_rank)
    assert results[0]["valid"] == results[1]["valid"]
    assert math.isfinite(results[0]["valid"]["accuracy"])
    # A scorer sharding its work and all-reducing sees every example once.
    assert results[0]["valid"]["sharded_accuracy"] == results[0]["valid"]["accuracy"]
    assert results[0]["step"] == results[1]["step"]
