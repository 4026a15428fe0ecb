"""The training loop: `Trainer` over a `TrainUnit`, with validation, checkpoints and metrics."""

from __future__ import annotations

from seqkit.trainer.config import EarlyStoppingConfig as EarlyStoppingConfig
from seqkit.trainer.config import ProfilerConfig as ProfilerConfig
from seqkit.trainer.config import TrainerConfig as TrainerConfig
from seqkit.trainer.errors import NonFiniteError as NonFiniteError
from seqkit.trainer.errors import TrainerConfigError as TrainerConfigError
from seqkit.trainer.errors import TrainerError as TrainerError
from seqkit.trainer.summary import TrainSummary as TrainSummary
from seqkit.trainer.summary import unwrap_model as unwrap_model
from seqkit.trainer.trainer import Trainer as Trainer
from seqkit.trainer.units import DataReader as DataReader
from seqkit.trainer.units import EvalUnit as EvalUnit
from seqkit.trainer.units import GlobalPositionReader as GlobalPositionReader
from seqkit.trainer.units import TrainUnit as TrainUnit
from seqkit.trainer.units import ValidationScorer as ValidationScorer
from seqkit.trainer.validation import evaluate as evaluate
