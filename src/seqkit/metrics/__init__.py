"""Metric bookkeeping (loss, perplexity, throughput) and recorders."""

from __future__ import annotations

from seqkit.metrics.bookkeeping import WALL_CLOCK_METRICS as WALL_CLOCK_METRICS
from seqkit.metrics.bookkeeping import LossMeter as LossMeter
from seqkit.metrics.bookkeeping import Stopwatch as Stopwatch
from seqkit.metrics.bookkeeping import perplexity as perplexity
from seqkit.metrics.recorders import ConsoleRecorder as ConsoleRecorder
from seqkit.metrics.recorders import JsonlRecorder as JsonlRecorder
from seqkit.metrics.recorders import MetricRecorder as MetricRecorder
from seqkit.metrics.recorders import MetricValues as MetricValues
from seqkit.metrics.recorders import TensorBoardRecorder as TensorBoardRecorder
from seqkit.metrics.recorders import create_recorders as create_recorders
from seqkit.metrics.recorders import record_all as record_all
from seqkit.metrics.recorders import tensorboard_available as tensorboard_available
