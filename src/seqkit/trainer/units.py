"""The roles the trainer drives: a train unit, an eval unit and a resumable data reader."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from typing import Generic, Protocol, TypeVar, runtime_checkable

from torch import Tensor, nn

from seqkit.gang import Gang

BatchT = TypeVar("BatchT")
BatchT_co = TypeVar("BatchT_co", covariant=True)


class TrainUnit(ABC, Generic[BatchT]):
    """Forward pass and loss of one batch.

    ``__call__`` returns the loss SUMMED over the batch's targets and the number of targets;
    the trainer normalizes by the total target count of the whole (accumulated, all-rank)
    step, so gradient accumulation and data parallelism give the same update as one big
    batch.
    """

    @property
    @abstractmethod
    def model(self) -> nn.Module:
        """The model being trained (possibly wrapped for data parallelism)."""

    @abstractmethod
    def __call__(self, batch: BatchT) -> tuple[Tensor, int | Tensor]:
        """``(summed loss, number of targets)`` for ``batch``."""

    def extra_metrics(self) -> dict[str, float]:
        """Unit-specific metrics accumulated since the last call (then reset); none by default."""
        return {}


class EvalUnit(ABC, Generic[BatchT]):
    """Loss of one validation batch (called under ``torch.no_grad`` with the model in eval)."""

    @property
    def name(self) -> str:
        """Metric section name; ``valid`` by default."""
        return "valid"

    @property
    @abstractmethod
    def model(self) -> nn.Module:
        """The model being evaluated."""

    @abstractmethod
    def __call__(self, batch: BatchT) -> tuple[Tensor, int | Tensor]:
        """``(summed loss, number of targets)`` for ``batch``."""


class ValidationScorer(ABC):
    """Extra validation metrics that are not a mean loss, e.g. the BLEU of translations.

    After the eval unit's pass over the validation reader, the trainer calls every scorer
    with the step and the data-parallel gang, on every rank, under ``torch.no_grad`` and
    autocast, with the eval unit's model in eval mode. The returned metrics join the
    validation metrics: recorded under the eval unit's section, and usable by early
    stopping and by the checkpoint score (``TrainerConfig.best_checkpoint_metric``).

    Every rank must run the same collectives and return the same metric names. The values
    of rank 0 are broadcast to the other ranks, so all ranks take the same early-stopping
    decision; a scorer may therefore compute on rank 0 only (returning placeholders, e.g.
    NaN, elsewhere) or shard its work and gather it.
    """

    @abstractmethod
    def __call__(self, step: int, gang: Gang) -> Mapping[str, float]:
        """The metrics of the model at ``step`` (names must not clash with the loss's)."""


class DataReader(Protocol[BatchT_co]):
    """What the trainer needs from its data (a ``seqkit.data.DataPipeline`` is one).

    Iterating continues from the current position; ``reset()`` starts the next epoch;
    ``state_dict()`` captures the position (plain values) for exact resume.
    """

    def __iter__(self) -> Iterator[BatchT_co]: ...

    def reset(self) -> None: ...

    def state_dict(self) -> Mapping[str, object]: ...

    def load_state_dict(self, state: Mapping[str, object]) -> None: ...


@runtime_checkable
class GlobalPositionReader(Protocol):
    """A reader whose position can be expressed independently of the number of ranks.

    Needed to resume with a different data-parallel size: for random-access sources the
    position is a global example count, so no example is skipped or repeated.
    """

    def global_state_dict(self) -> Mapping[str, object]: ...

    def load_global_state_dict(self, state: Mapping[str, object]) -> None: ...
