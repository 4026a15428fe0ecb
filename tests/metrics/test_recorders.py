from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest

from seqkit.metrics import (
    ConsoleRecorder,
    JsonlRecorder,
    LossMeter,
    TensorBoardRecorder,
    create_recorders,
    perplexity,
    record_all,
    tensorboard_available,
)


def test_jsonl_appends_flushed_lines(tmp_path: Path) -> None:
    path = tmp_path / "run" / "metrics.jsonl"
    recorder = JsonlRecorder(path)
    recorder.record("train", 1, {"loss": 2.5, "num_targets": 7})
    # Flushed per line: a killed run keeps what it recorded, before close().
    assert json.loads(path.read_text()) == {
        "section": "train",
        "step": 1,
        "loss": 2.5,
        "num_targets": 7,
    }
    recorder.close()
    again = JsonlRecorder(path)  # a resumed run appends
    again.record("valid", 2, {"loss": 1.0})
    again.close()
    assert [json.loads(x)["section"] for x in path.read_text().splitlines()] == ["train", "valid"]
    with pytest.raises(ValueError, match="closed"):
        again.record("train", 3, {})


def test_console_lines_are_compact() -> None:
    stream = io.StringIO()
    ConsoleRecorder(stream).record("train", 10, {"loss": 2.31456, "lr": 3e-4, "epoch": 1})
    assert stream.getvalue() == "train step 10 | loss 2.315 | lr 3.000e-04 | epoch 1\n"


@pytest.mark.skipif(not tensorboard_available(), reason="tensorboard not installed")
def test_tensorboard_writes_events(tmp_path: Path) -> None:
    recorder = TensorBoardRecorder(tmp_path / "tb")
    recorder.record("train", 1, {"loss": 1.0})
    recorder.close()
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_create_recorders(tmp_path: Path) -> None:
    recorders = create_recorders(tmp_path, console=False, tensorboard=False)
    assert [type(r) for r in recorders] == [JsonlRecorder]
    record_all(recorders, "train", 1, {"loss": 0.5})
    for r in recorders:
        r.close()
    assert (tmp_path / "metrics.jsonl").read_text().count("\n") == 1
    assert create_recorders(None, console=False) == []


def test_loss_meter_and_perplexity() -> None:
    meter = LossMeter()
    assert math.isnan(meter.mean)
    meter.update(6.0, 3)
    meter.update(2.0, 1)
    assert meter.values() == {"loss": 2.0, "ppl": pytest.approx(math.e**2), "num_targets": 4}
    assert perplexity(1e6) == math.inf
