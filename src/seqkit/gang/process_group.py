"""A :class:`Gang` over a torch.distributed process group (Gloo on CPU, NCCL on CUDA)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from typing import Final, TypeVar

import torch
import torch.distributed as dist
from torch import Tensor
from torch.distributed import ProcessGroup
from typing_extensions import override

from seqkit.gang.errors import GangError, GangSetupError
from seqkit.gang.gang import Gang, ReduceOperation, check_ranks

DEFAULT_TIMEOUT: Final = timedelta(minutes=15)
"""How long a collective may wait for the other ranks before it fails (torch's default is
10 min for NCCL, 30 for Gloo; 15 fits checkpoint saves of multi-GB models)."""

_REDUCE_OPS: Final = {
    ReduceOperation.SUM: dist.ReduceOp.SUM,
    ReduceOperation.MEAN: dist.ReduceOp.SUM,  # divided afterwards: Gloo has no AVG
    ReduceOperation.MAX: dist.ReduceOp.MAX,
    ReduceOperation.MIN: dist.ReduceOp.MIN,
}

T = TypeVar("T")


def backend_for(device: torch.device) -> str:
    """The torch.distributed backend for ``device``: NCCL for CUDA (with Gloo beside it
    for CPU tensors), Gloo otherwise."""
    if device.type == "cuda":
        return "cpu:gloo,cuda:nccl"
    return "gloo"


class ProcessGroupGang(Gang):
    """A gang over a torch.distributed ``ProcessGroup``.

    Every failing collective (a dead peer, a timeout, a mismatched call) is raised as a
    :class:`~seqkit.gang.GangError` naming the operation and this rank.
    """

    def __init__(self, group: ProcessGroup, device: torch.device, timeout: timedelta) -> None:
        self._group = group
        self._device = device
        self._timeout = timeout
        self._rank = dist.get_rank(group)
        self._size = dist.get_world_size(group)
        self._closed = False

    @staticmethod
    def create_default(
        *,
        device: torch.device,
        timeout: timedelta = DEFAULT_TIMEOUT,
        rank: int | None = None,
        size: int | None = None,
        init_method: str | None = None,
    ) -> ProcessGroupGang:
        """Initialize the default process group and return the gang of all processes.

        Without ``init_method`` the rendezvous uses the ``MASTER_ADDR``/``MASTER_PORT``
        (and ``RANK``/``WORLD_SIZE`` unless given) environment variables, as torchrun sets.
        """
        if dist.is_initialized():
            raise GangSetupError(
                "torch.distributed is already initialized; create the root gang once per "
                "process (call `setup_gangs()` once, or wrap the existing group with "
                "`ProcessGroupGang(group, device, timeout)`)."
            )
        if device.type == "cuda":
            torch.cuda.set_device(device)
        try:
            dist.init_process_group(
                backend_for(device),
                init_method=init_method,
                rank=-1 if rank is None else rank,
                world_size=-1 if size is None else size,
                timeout=timeout,
            )
        except (RuntimeError, ValueError) as ex:
            where = f" at {init_method}" if init_method else ""
            who = f"Rank {rank} of {size}" if rank is not None and size is not None else "This rank"
            reason = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
            raise GangSetupError(
                f"{who} could not join torch.distributed{where} on {device} within "
                f"{timeout.total_seconds():g} s ({reason}). Check MASTER_ADDR/MASTER_PORT, RANK "
                "and WORLD_SIZE, and that every rank starts."
            ) from ex
        group = dist.group.WORLD
        assert group is not None
        return ProcessGroupGang(group, device, timeout)

    @property
    def process_group(self) -> ProcessGroup:
        """The underlying torch.distributed group (for DDP, FSDP and device meshes)."""
        return self._group

    @property
    def timeout(self) -> timedelta:
        """How long a collective waits before it fails."""
        return self._timeout

    @property
    @override
    def rank(self) -> int:
        return self._rank

    @property
    @override
    def size(self) -> int:
        return self._size

    @property
    @override
    def device(self) -> torch.device:
        return self._device

    @override
    def all_reduce(self, tensor: Tensor, op: ReduceOperation) -> None:
        if op is ReduceOperation.MEAN and not tensor.is_floating_point():
            raise TypeError(f"MEAN needs a floating-point tensor, but got {tensor.dtype}.")
        with self._collective("all_reduce"):
            dist.all_reduce(tensor, _REDUCE_OPS[op], group=self._group)
        if op is ReduceOperation.MEAN:
            tensor.div_(self._size)

    @override
    def all_gather(self, output: Tensor, tensor: Tensor) -> None:
        expected = (self._size * tensor.size(0), *tensor.shape[1:])
        if tuple(output.shape) != expected:
            raise ValueError(
                f"`output` must have the shape {expected} (gang size {self._size} times the "
                f"rows of `tensor`), but has {tuple(output.shape)}."
            )
        if not output.is_contiguous() or output.dtype != tensor.dtype:
            self.all_gather_to_list(list(output.chunk(self._size)), tensor)
            return
        with self._collective("all_gather"):
            dist.all_gather_single(output, tensor.contiguous(), group=self._group)

    @override
    def all_gather_to_list(self, outputs: Sequence[Tensor], tensor: Tensor) -> None:
        if len(outputs) != self._size:
            raise ValueError(f"`outputs` must hold {self._size} tensors, but holds {len(outputs)}.")
        direct = all(
            out.is_contiguous()
            and out.shape == tensor.shape
            and out.dtype == tensor.dtype
            and out.device == tensor.device
            for out in outputs
        )
        # Gather straight into the outputs when they fit; otherwise through fresh buffers.
        received = list(outputs) if direct else [torch.empty_like(tensor) for _ in outputs]
        with self._collective("all_gather"):
            dist.all_gather(received, tensor.contiguous(), group=self._group)
        if not direct:
            for out, value in zip(outputs, received, strict=True):
                out.copy_(value)

    @override
    def broadcast(self, tensor: Tensor, source_rank: int = 0) -> None:
        self._check_source(source_rank)
        with self._collective("broadcast"):
            dist.broadcast(tensor, self._global(source_rank), group=self._group)

    @override
    def broadcast_objects(self, objects: list[object], source_rank: int = 0) -> None:
        self._check_source(source_rank)
        # Objects travel as pickles: only data this job made itself goes through here.
        device = self._device if self._device.type == "cuda" else None
        with self._collective("broadcast_objects"):
            dist.broadcast_object_list(
                objects, self._global(source_rank), group=self._group, device=device
            )

    @override
    def barrier(self) -> None:
        with self._collective("barrier"):
            if self._device.type == "cuda":
                dist.barrier(group=self._group, device_ids=[self._device.index or 0])
            else:
                dist.barrier(group=self._group)

    @override
    def create_gang(
        self, ranks: Sequence[int], *, timeout: timedelta | None = None
    ) -> ProcessGroupGang | None:
        """See :meth:`Gang.create_gang`; ``timeout`` (default: this gang's) bounds the new
        gang's collectives, e.g. a short one for a health check."""
        members = check_ranks(self, ranks)
        global_ranks = [self._global(rank) for rank in members]
        timeout = timeout or self._timeout
        with self._collective("create_gang"):
            group = dist.new_group(global_ranks, timeout=timeout)
        if self._rank not in members:
            return None
        return ProcessGroupGang(group, self._device, timeout)

    @override
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._group is dist.group.WORLD:
            dist.destroy_process_group()

    def run(self, operation: str, fn: Callable[[], T]) -> T:
        """Run ``fn`` (which calls torch.distributed on this gang's group) and report its
        failure as a :class:`GangError` for ``operation``."""
        with self._collective(operation):
            return fn()

    def _global(self, rank: int) -> int:
        if self._group is dist.group.WORLD:
            return rank
        return dist.get_global_rank(self._group, rank)

    def _check_source(self, source_rank: int) -> None:
        if source_rank < 0 or source_rank >= self._size:
            raise ValueError(
                f"`source_rank` must be between 0 and {self._size - 1}, but is {source_rank}."
            )

    @contextmanager
    def _collective(self, operation: str) -> Iterator[None]:
        if self._closed:
            raise GangError(operation, self._rank, self._size, "the gang is closed")
        try:
            yield
        except RuntimeError as ex:  # DistBackendError and Gloo/NCCL errors derive from it
            if isinstance(ex, GangError):
                raise
            reason = str(ex).strip().splitlines()[0] if str(ex).strip() else type(ex).__name__
            if "timed out" in reason.lower() or "timeout" in reason.lower():
                reason = f"timed out after {self._timeout.total_seconds():g} s ({reason})"
            raise GangError(operation, self._rank, self._size, reason) from ex
