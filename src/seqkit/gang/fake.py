"""A single-process :class:`Gang` for tests and for runs without torch.distributed."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from typing_extensions import override

from seqkit.gang.gang import Gang, ReduceOperation, check_ranks


class FakeGang(Gang):
    """A gang of one process: every collective is the identity, as it would be on a real
    gang of size 1, and shapes are checked the same way."""

    def __init__(self, device: torch.device | None = None) -> None:
        self._device = device if device is not None else torch.device("cpu")
        self._closed = False

    @property
    @override
    def rank(self) -> int:
        return 0

    @property
    @override
    def size(self) -> int:
        return 1

    @property
    @override
    def device(self) -> torch.device:
        return self._device

    @override
    def all_reduce(self, tensor: Tensor, op: ReduceOperation) -> None:
        self._check_open()

    @override
    def all_gather(self, output: Tensor, tensor: Tensor) -> None:
        self._check_open()
        if output.shape != tensor.shape:
            raise ValueError(
                f"`output` must have the shape {tuple(tensor.shape)} on a gang of size 1, "
                f"but has {tuple(output.shape)}."
            )
        output.copy_(tensor)

    @override
    def all_gather_to_list(self, outputs: Sequence[Tensor], tensor: Tensor) -> None:
        self._check_open()
        if len(outputs) != 1:
            raise ValueError(f"`outputs` must hold 1 tensor, but holds {len(outputs)}.")
        outputs[0].copy_(tensor)

    @override
    def broadcast(self, tensor: Tensor, source_rank: int = 0) -> None:
        self._check_open()
        self._check_source(source_rank)

    @override
    def broadcast_objects(self, objects: list[object], source_rank: int = 0) -> None:
        self._check_open()
        self._check_source(source_rank)

    @override
    def barrier(self) -> None:
        self._check_open()

    @override
    def create_gang(self, ranks: Sequence[int]) -> Gang | None:
        self._check_open()
        check_ranks(self, ranks)
        return FakeGang(self._device)

    @override
    def close(self) -> None:
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("The gang is closed; create a new one.")

    @staticmethod
    def _check_source(source_rank: int) -> None:
        if source_rank != 0:
            raise ValueError(f"`source_rank` must be 0 on a gang of size 1, but is {source_rank}.")
