"""Metric recorders: console lines, a JSONL file, TensorBoard (when installed)."""

from __future__ import annotations

import json
import logging
import math
import os
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, final

from tqdm import tqdm
from typing_extensions import override

log = logging.getLogger(__name__)

MetricValues = Mapping[str, float | int]


class MetricRecorder(ABC):
    """Receives the metrics of one section (``"train"``, ``"valid"``) at one step."""

    @abstractmethod
    def record(self, section: str, step: int, values: MetricValues) -> None:
        """Record ``values`` for ``section`` at ``step``."""

    def close(self) -> None:  # noqa: B027 - most recorders hold nothing to release
        """Flush and release resources; the default does nothing."""

    def resume(self, step: int) -> None:  # noqa: B027 - most recorders keep no history
        """Training continues after ``step`` (a resumed checkpoint's step, 0 for a restart):
        records of later steps are about to be recorded again. The default does nothing."""


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

    Flushing each line means a killed run keeps everything it recorded. A kill in the middle
    of a write leaves a torn last line without its newline: opening the file drops that
    fragment (the row it began belongs to a step after the last checkpoint, which a resumed
    run records again). :meth:`resume` drops the rows of the steps after the resumed
    checkpoint, so no row is in the file twice.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        _drop_torn_tail(path)
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    @override
    def record(self, section: str, step: int, values: MetricValues) -> None:
        if self._file is None:
            raise ValueError(f"JsonlRecorder for {self.path} is closed.")
        line = json.dumps({"section": section, "step": step, **values})
        self._file.write(line + "\n")
        self._file.flush()

    @override
    def resume(self, step: int) -> None:
        """Rewrite the file (atomically) without the rows of steps after ``step`` and without
        lines that do not parse; rows without an integer ``step`` are kept."""
        if self._file is None:
            raise ValueError(f"JsonlRecorder for {self.path} is closed.")
        self._file.close()
        self._file = None
        kept: list[bytes] = []
        dropped = damaged = 0
        with self.path.open("rb") as f:
            lines = f.read().splitlines(keepends=True)
        for line in lines:
            row = _parse_row(line)
            if row is None:
                damaged += line.strip() != b""
                continue
            row_step = row.get("step")
            if isinstance(row_step, int) and not isinstance(row_step, bool) and row_step > step:
                dropped += 1
                continue
            kept.append(line if line.endswith(b"\n") else line + b"\n")
        if dropped or damaged:
            tmp = self.path.with_name(f".{self.path.name}.tmp")
            with tmp.open("wb") as f:
                f.write(b"".join(kept))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
            log.info(
                "Resuming after step %d: dropped %d row(s) of later steps and %d unreadable "
                "line(s) from %s; those steps are recorded again.",
                step,
                dropped,
                damaged,
                self.path,
            )
        self._file = self.path.open("a", encoding="utf-8")

    @override
    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _parse_row(line: bytes) -> dict[str, object] | None:
    """A JSONL line as a dict, or None if it is damaged (not UTF-8, not JSON, not a dict)."""
    try:
        row = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return row if isinstance(row, dict) else None


def _drop_torn_tail(path: Path) -> None:
    """Truncate ``path`` after its last newline if it does not end with one (a torn write)."""
    try:
        f = path.open("rb+")
    except FileNotFoundError:
        return
    with f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        cut, pos = 0, end
        while pos > 0:  # search backwards for the last complete line
            begin = max(0, pos - (1 << 16))
            f.seek(begin)
            chunk = f.read(pos - begin)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                cut = begin + newline + 1
                break
            pos = begin
        f.truncate(cut)
        f.flush()
        os.fsync(f.fileno())
    log.warning(
        "Dropped a torn last line (%d bytes, no newline) of %s, left by an interrupted write.",
        end - cut,
        path,
    )


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


@dataclass(frozen=True, kw_only=True)
class RecorderSettings:
    """What a recorder factory is told about the run it records."""

    output_dir: Path | None
    """The run's directory (``None``: nothing is written to disk)."""

    console: bool = True
    """Whether the run wants console lines (``train.console_metrics``)."""

    jsonl: bool = True
    """Whether the run wants ``metrics.jsonl``."""

    tensorboard: bool = True
    """Whether the run wants TensorBoard event files (``train.tensorboard``)."""

    run: str = ""
    """What runs, e.g. the recipe ``"lm.train"``."""

    config: object | None = None
    """The run's resolved config (an extension may log it as hyperparameters)."""


@dataclass(frozen=True, kw_only=True)
class RecorderFactory:
    """A named metric recorder: register it in the container keyed by :attr:`name`.

    ``create`` returns the recorder for a run, or ``None`` when it does not apply (e.g.
    TensorBoard is not installed, or the settings turn it off).
    """

    name: str
    """The recorder's name (``"console"``, ``"jsonl"``, ``"tensorboard"``, ``"wandb"``...)."""

    create: Callable[[RecorderSettings], MetricRecorder | None]
    """Builds the recorder of one run."""


@final
class MetricRecorders:
    """Every registered recorder factory (built-ins plus extensions), in registration order."""

    def __init__(self, factories: Iterable[RecorderFactory]) -> None:
        self._factories = tuple(factories)

    def names(self) -> list[str]:
        """The names of the factories, in order."""
        return [f.name for f in self._factories]

    def create(self, settings: RecorderSettings) -> list[MetricRecorder]:
        """The recorders of one run; if a factory fails, those already made are closed."""
        recorders: list[MetricRecorder] = []
        try:
            for factory in self._factories:
                recorder = factory.create(settings)
                if recorder is not None:
                    recorders.append(recorder)
        except BaseException:
            for recorder in recorders:
                recorder.close()
            raise
        return recorders


def _console(settings: RecorderSettings) -> MetricRecorder | None:
    return ConsoleRecorder() if settings.console else None


def _jsonl(settings: RecorderSettings) -> MetricRecorder | None:
    if settings.output_dir is None or not settings.jsonl:
        return None
    return JsonlRecorder(settings.output_dir / "metrics.jsonl")


def _tensorboard(settings: RecorderSettings) -> MetricRecorder | None:
    if settings.output_dir is None or not settings.tensorboard or not tensorboard_available():
        return None
    return TensorBoardRecorder(settings.output_dir / "tb")


BUILTIN_RECORDERS: tuple[RecorderFactory, ...] = (
    RecorderFactory(name="console", create=_console),
    RecorderFactory(name="jsonl", create=_jsonl),
    RecorderFactory(name="tensorboard", create=_tensorboard),
)
"""The recorders seqkit registers in the container, in this order."""


def create_recorders(
    output_dir: Path | None, *, console: bool = True, jsonl: bool = True, tensorboard: bool = True
) -> list[MetricRecorder]:
    """The standard recorders: console, ``<output_dir>/metrics.jsonl`` and ``<output_dir>/tb``.

    TensorBoard is skipped silently when the package is not installed. Recipes use the
    container's :class:`MetricRecorders`, which holds extensions' recorders too.
    """
    settings = RecorderSettings(
        output_dir=output_dir, console=console, jsonl=jsonl, tensorboard=tensorboard
    )
    return MetricRecorders(BUILTIN_RECORDERS).create(settings)


def record_all(
    recorders: Sequence[MetricRecorder], section: str, step: int, values: MetricValues
) -> None:
    """Send one record to every recorder."""
    for recorder in recorders:
        recorder.record(section, step, values)
