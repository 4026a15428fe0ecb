"""Metric recorders: console lines, a JSONL file, TensorBoard (when installed)."""

from __future__ import annotations

import json
import math
import sys
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, final

from tqdm import tqdm
from typing_extensions import override

MetricValues = Mapping[str, float | int]


class MetricRecorder(ABC):
    """Receives the metrics of one section (``"train"``, ``"valid"``) at one step."""

    @abstractmethod
    def record(self, section: str, step: int, values: MetricValues) -> None:
        """Record ``values`` for ``section`` at ``step``."""

    def close(self) -> None:  # noqa: B027 - most recorders hold nothing to release
        """Flush and release resources; the default does nothing."""


def _format(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    if value == 0.0 or not math.isfinite(value) or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


@final
class ConsoleRecorder(MetricRecorder):
    """Writes one compact line per record: ``train step 10 | loss 2.31 | lr 3e-04``."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream

    @override
    def record(self, section: str, step: int, values: MetricValues) -> None:
        parts = [f"{section} step {step}"] + [f"{k} {_format(v)}" for k, v in values.items()]
        # tqdm.write clears and redraws an active progress bar around the line.
        tqdm.write(" | ".join(parts), file=self._stream or sys.stderr)


@final
class JsonlRecorder(MetricRecorder):
    """Appends ``{"section", "step", **values}`` lines to a file, flushed per line.

    Flushing each line means a killed run keeps everything it recorded; on resume the steps
    after the last checkpoint are recorded again (identical values, see exact resume).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    @override
    def record(self, section: str, step: int, values: MetricValues) -> None:
        if self._file is None:
            raise ValueError(f"JsonlRecorder for {self.path} is closed.")
        line = json.dumps({"section": section, "step": step, **values})
        self._file.write(line + "\n")
        self._file.flush()

    @override
    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


@final
class TensorBoardRecorder(MetricRecorder):
    """Writes scalars ``<section>/<name>`` to TensorBoard event files under ``log_dir``."""

    def __init__(self, log_dir: Path) -> None:
        from torch.utils.tensorboard import SummaryWriter

        self._writer = SummaryWriter(log_dir=str(log_dir))

    @override
    def record(self, section: str, step: int, values: MetricValues) -> None:
        for name, value in values.items():
            self._writer.add_scalar(f"{section}/{name}", value, step)

    @override
    def close(self) -> None:
        self._writer.close()


def tensorboard_available() -> bool:
    """Whether the ``tensorboard`` package is installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def create_recorders(
    output_dir: Path | None, *, console: bool = True, jsonl: bool = True, tensorboard: bool = True
) -> list[MetricRecorder]:
    """The standard recorders: console, ``<output_dir>/metrics.jsonl`` and ``<output_dir>/tb``.

    TensorBoard is skipped silently when the package is not installed.
    """
    recorders: list[MetricRecorder] = []
    if console:
        recorders.append(ConsoleRecorder())
    if output_dir is not None:
        if jsonl:
            recorders.append(JsonlRecorder(output_dir / "metrics.jsonl"))
        if tensorboard and tensorboard_available():
            recorders.append(TensorBoardRecorder(output_dir / "tb"))
    return recorders


def record_all(
    recorders: Sequence[MetricRecorder], section: str, step: int, values: MetricValues
) -> None:
    """Send one record to every recorder."""
    for recorder in recorders:
        recorder.record(section, step, values)
