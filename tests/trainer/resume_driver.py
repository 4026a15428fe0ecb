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
from seqkit.trainer import unwrap_model
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
    recorders: list[MetricRecorder] = [JsonlRecorder(args.out_dir / "metrics.jsonl")]
    if args.kill_at_step is not None:
        recorders.append(SignalAtStep(args.kill_at_step, signal.SIGKILL))
    if args.sigterm_at_step is not None:
        recorders.append(SignalAtStep(args.sigterm_at_step, signal.SIGTERM))
    if args.kill_while_saving is not None:
        kill_while_saving(args.kill_while_saving)
    trainer = build_trainer(
        args.out_dir, max_num_steps=args.steps, recorders=recorders, validate_every_n_steps=4
    )
    summary = trainer.run()
    save_tensors(unwrap_model(trainer.unit.model).state_dict(), args.out_dir / "final.safetensors")
    print(f"STOP {summary.stop_reason} {summary.step} {summary.resumed_from}", flush=True)


if __name__ == "__main__":
    main()
