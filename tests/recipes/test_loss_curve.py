from __future__ import annotations

import json
from pathlib import Path

from seqkit.recipes.loss_curve import plot_loss_curves, read_loss_curve, text_curve


def _metrics(path: Path) -> Path:
    records = [
        {"section": "train", "step": 10, "loss": 5.0},
        {"section": "train", "step": 20, "loss": 4.0},
        {"section": "valid", "step": 20, "loss": 4.2},
        {"section": "train", "step": 20, "loss": 3.9},  # recorded again after a resume
        {"section": "train", "step": 30, "loss": 3.0},
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + '{"section": "tr')
    return path


def test_read_keeps_the_last_value_of_a_step_and_skips_a_cut_line(tmp_path: Path) -> None:
    metrics = _metrics(tmp_path / "metrics.jsonl")
    assert read_loss_curve(metrics) == [(10, 5.0), (20, 3.9), (30, 3.0)]
    assert read_loss_curve(metrics, "valid") == [(20, 4.2)]
    assert read_loss_curve(tmp_path / "missing.jsonl") == []


def test_text_curve_spans_min_to_max(tmp_path: Path) -> None:
    text = text_curve(read_loss_curve(_metrics(tmp_path / "m.jsonl")), height=4)
    lines = text.splitlines()
    assert lines[0].startswith("  5.000 │█")
    assert lines[3].startswith("  3.000 │")
    assert lines[-1].strip().startswith("step 10")
    assert lines[-1].rstrip().endswith("step 30")


def test_plot_writes_a_png(tmp_path: Path) -> None:
    png = plot_loss_curves(_metrics(tmp_path / "m.jsonl"), tmp_path / "loss.png", title="t")
    assert png is not None
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
