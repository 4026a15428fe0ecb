"""Runs the toy training in a subprocess; can SIGKILL/SIGTERM itself at chosen moments.

Usage: python -m tests.trainer.resume_driver OUT_DIR --steps N [--kill-at-step S]
       [--kill-while-saving STEP] [--sigterm-at-step S]
"""

from __future__ import annotations

import argparse
import os
import signal
from pathlib import Path

import torch

import seqkit.checkpoint.manager as manager_module
from seqkit.checkpoint.files import save_tensors
from seqkit.metrics import JsonlRecorder, MetricRecorder
from seqkit.trainer import TrainSummary, unwrap_model
from tests.trainer.toy import build_trainer


class SignalAtStep(MetricRecorder):
    def __init__(self, step: int, signum: int) -> None:
        self.step, self.signum = step, signum

    def record(self, section: str, step: int, values: object) -> None:
        if section == "train" and step == self.step:
            os.kill(os.getpid(), self.signum)


def kill_while_saving(step: int) -> None:
    """SIGKILL after optimizer.pt of ``step`` is durable but before the manifest exists."""
    commit = manager_module.commit_file

    def commit_then_die(path: Path) -> None:
        commit(path)
        if path.parent.name == f"step_{step}.tmp" and path.name == "optimizer.pt":
            os.kill(os.getpid(), signal.SIGKILL)

    manager_module.commit_file = commit_then_die


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--kill-at-step", type=int)
    parser.add_argument("--kill-while-saving", type=int)
    parser.add_argument("--sigterm-at-step", type=int)
    args = parser.parse_args()
    torch.set_num_threads(1)
    summary = drive(
        args.out_dir,
        steps=args.steps,
        kill_at_step=args.kill_at_step,
        kill_while_saving_step=args.kill_while_saving,
        sigterm_at_step=args.sigterm_at_step,
    )
    print(f"STOP {summary.stop_reason} {summary.step} {summary.resumed_from}", flush=True)


def drive(
    out_dir: Path,
    *,
    steps: int,
    kill_at_step: int | None = None,
    kill_while_saving_step: int | None = None,
    sigterm_at_step: int | None = None,
) -> TrainSummary:
    """The toy run (validating every 4 steps, checkpointing every 3); saves final weights."""
    recorders: list[MetricRecorder] = [JsonlRecorder(out_dir / "metrics.jsonl")]
    if kill_at_step is not None:
        recorders.append(SignalAtStep(kill_at_step, signal.SIGKILL))
    if sigterm_at_step is not None:
        recorders.append(SignalAtStep(sigterm_at_step, signal.SIGTERM))
    if kill_while_saving_step is not None:
        kill_while_saving(kill_while_saving_step)
    trainer = build_trainer(
        out_dir, max_num_steps=steps, recorders=recorders, validate_every_n_steps=4
    )
    summary = trainer.run()
    recorders[0].close()
    save_tensors(unwrap_model(trainer.unit.model).state_dict(), out_dir / "final.safetensors")
    return summary


if __name__ == "__main__":
    main()
