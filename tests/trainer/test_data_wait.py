"""The trainer publishes the time its steps wait for batches (``data_wait_s``/``_share``)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from seqkit.metrics import WALL_CLOCK_METRICS, MetricRecorder, MetricValues
from tests.trainer.toy import Batch, ToyReader, build_trainer, make_examples


class Collect(MetricRecorder):
    def __init__(self) -> None:
        self.rows: list[tuple[str, int, dict[str, float]]] = []

    def record(self, section: str, step: int, values: MetricValues) -> None:
        self.rows.append((section, step, {k: float(v) for k, v in values.items()}))

    def close(self) -> None:
        pass


class SlowReader(ToyReader):
    """A reader that sleeps before every batch, as one that cannot keep up would."""

    def __init__(self, delay_s: float) -> None:
        super().__init__(make_examples(40), 4)
        self.delay_s = delay_s

    def __iter__(self) -> Iterator[Batch]:
        for batch in super().__iter__():
            time.sleep(self.delay_s)
            yield batch


def _train_rows(reader: ToyReader | None, **overrides: object) -> list[dict[str, float]]:
    recorder = Collect()
    trainer = build_trainer(
        None,
        max_num_steps=12,
        checkpoint_every=None,
        recorders=[recorder],
        reader=reader,
        publish_metrics_every_n_steps=3,
        **overrides,
    )
    trainer.run()
    return [values for section, _, values in recorder.rows if section == "train"]


def test_data_wait_is_recorded_with_every_window() -> None:
    rows = _train_rows(None)
    assert len(rows) == 4
    for values in rows:
        assert 0.0 <= values["data_wait_share"] <= 1.0
        assert 0.0 <= values["data_wait_s"] <= values["step_time_s"]


def test_a_slow_reader_shows_up_as_data_wait() -> None:
    rows = _train_rows(SlowReader(delay_s=0.01), grad_accumulation=2)
    for values in rows:
        # Two sleeping fetches per step: at least their sleep (no upper timing bound).
        assert values["data_wait_s"] >= 0.02
        assert 0.0 < values["data_wait_share"] <= 1.0


def test_data_wait_is_a_clock_metric() -> None:
    # Exact-resume comparisons drop the clock-dependent metrics; these are among them.
    assert {"data_wait_s", "data_wait_share"} <= WALL_CLOCK_METRICS
