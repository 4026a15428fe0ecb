"""metrics.jsonl after crashes: torn last lines and rows recorded again after a resume."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from seqkit.metrics import JsonlRecorder
from seqkit.recipes.loss_curve import read_loss_curve


def _row(section: str, step: int, loss: float) -> str:
    return json.dumps({"section": section, "step": step, "loss": loss}) + "\n"


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_open_drops_a_torn_last_line(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(_row("train", 1, 3.0) + _row("train", 2, 2.5) + '{"section": "train", "st')
    with caplog.at_level(logging.WARNING):
        recorder = JsonlRecorder(path)
    assert "torn" in caplog.text
    assert str(path) in caplog.text
    recorder.record("train", 3, {"loss": 2.0})
    recorder.close()
    # Every line parses: the fragment is gone rather than glued to the next row.
    assert [(r["step"], r["loss"]) for r in _rows(path)] == [(1, 3.0), (2, 2.5), (3, 2.0)]


def test_open_of_a_file_that_is_only_a_fragment(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"section": "tr\x00\x00')
    recorder = JsonlRecorder(path)
    recorder.record("train", 1, {"loss": 1.0})
    recorder.close()
    assert _rows(path) == [{"section": "train", "step": 1, "loss": 1.0}]


def test_open_keeps_a_complete_file_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    body = _row("train", 1, 3.0) + _row("valid", 1, 3.5)
    path.write_text(body)
    JsonlRecorder(path).close()
    assert path.read_text() == body


def test_resume_drops_rows_after_the_resumed_step(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(
        _row("train", 2, 3.0)
        + _row("valid", 4, 2.9)
        + '{"section": "tr{"section": "train", "step": 5, "loss": 2.7}\n'  # old torn line
        + _row("train", 6, 2.5)
        + _row("train", 8, 2.0)
        + _row("valid", 8, 2.4)
    )
    recorder = JsonlRecorder(path)
    recorder.resume(4)
    recorder.record("train", 6, {"loss": 2.5})
    recorder.close()
    assert [(r["section"], r["step"]) for r in _rows(path)] == [
        ("train", 2),
        ("valid", 4),
        ("train", 6),
    ]
    assert not list(tmp_path.glob(".*tmp"))


def test_reader_skips_damaged_lines_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(
        _row("train", 1, 3.0).encode()
        + b'{"section": "train", "st\xff\xfe\n'  # torn mid-line, bytes that are not UTF-8
        + b"[1, 2]\n"  # valid JSON, not a row
        + b'{"section": "train", "step": "two", "loss": 1.0}\n'
        + b'{"section": "train", "loss": 1.0}\n'
        + _row("train", 3, 2.0).encode()
        + b'{"section": "train", "step": 4, "lo'
    )
    with caplog.at_level(logging.WARNING):
        curve = read_loss_curve(path)
    assert curve == [(1, 3.0), (3, 2.0)]
    assert "Skipped 5 unreadable line(s)" in caplog.text
    assert str(path) in caplog.text
