"""``setup_gangs()``: the root, data-parallel and tensor-parallel gangs of this process."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

import torch

from seqkit.gang.environment import WorldInfo, read_world_info
from seqkit.gang.errors import GangSetupError
from seqkit.gang.fake import FakeGang
from seqkit.gang.gang import Gang
from seqkit.gang.process_group import DEFAULT_TIMEOUT, ProcessGroupGang


@dataclass(frozen=True)
class Gangs:
    """The gangs of one process.

    Ranks are laid out tensor-parallel first: with 8 processes and ``tp_size=2`` the tp
    gangs are ``{0,1}, {2,3}, ...`` (neighbours, usually on one node, since TP talks most)
    and the dp gangs ``{0,2,4,6}`` and ``{1,3,5,7}``.
    """

    root: Gang
    """Every process of the job."""

    dp: Gang
    """The processes that hold the same model shard and split the batch."""

    tp: Gang
    """The processes that split one model replica's layers (size ``tp_size``)."""

    def close(self) -> None:
        """Close the sub-gangs, then the root gang."""
        for gang in (self.tp, self.dp):
            if gang is not self.root:
                gang.close()
        self.root.close()


def setup_gangs(
    tp_size: int = 1,
    device: torch.device | None = None,
    timeout: timedelta | float = DEFAULT_TIMEOUT,
    *,
    env: Mapping[str, str] | None = None,
) -> Gangs:
    """Set up the gangs of this process from the torchrun or SLURM environment.

    :param tp_size: the tensor-parallel degree; it must divide the number of processes.
    :param device: the device of this process; by default the CUDA device ``LOCAL_RANK``
        when CUDA is available, else the CPU.
    :param timeout: how long (a ``timedelta`` or seconds) a collective may wait.
    :param env: the environment to read (``os.environ`` by default).

    A process started by neither launcher gets :class:`FakeGang` s of size 1.
    """
    if isinstance(timeout, (int, float)):
        timeout = timedelta(seconds=timeout)
    if timeout.total_seconds() <= 0:
        raise GangSetupError(f"The gang timeout must be positive, but is {timeout}.")
    if tp_size < 1:
        raise GangSetupError(f"`tp_size` must be at least 1, but is {tp_size}.")

    info = read_world_info(os.environ if env is None else env)
    if device is None:
        device = default_device(0 if info is None else info.local_rank)

    if info is None or info.size == 1:
        if tp_size != 1:
            raise GangSetupError(
                f"`tp_size` is {tp_size} but this is a single process; launch "
                f"{tp_size} or a multiple of it with torchrun or srun."
            )
        gang = FakeGang(device)
        return Gangs(root=gang, dp=gang, tp=gang)

    if info.size % tp_size != 0:
        raise GangSetupError(
            f"`tp_size` ({tp_size}) must divide the number of processes ({info.size})."
        )
    root = ProcessGroupGang.create_default(
        device=device,
        timeout=timeout,
        rank=info.rank,
        size=info.size,
        init_method=info.init_method,
    )
    return split_gangs(root, tp_size)


class GangsFactory:
    """Sets up the gangs of this process on demand: what the container provides, so that
    recipes ask for gangs with their own ``tp_size`` and tests can swap in fakes."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = env

    def __call__(
        self,
        tp_size: int = 1,
        device: torch.device | None = None,
        timeout: timedelta | float = DEFAULT_TIMEOUT,
    ) -> Gangs:
        """:func:`setup_gangs` with this factory's environment (``os.environ`` if none)."""
        return setup_gangs(tp_size, device, timeout, env=self._env)


def split_gangs(root: Gang, tp_size: int) -> Gangs:
    """Split ``root`` into tensor-parallel gangs of ``tp_size`` neighbouring ranks and the
    data-parallel gangs across them (every rank of ``root`` must call this)."""
    if root.size % tp_size != 0:
        raise GangSetupError(f"`tp_size` ({tp_size}) must divide the gang size ({root.size}).")
    if tp_size == 1:
        return Gangs(root=root, dp=root, tp=FakeGang(root.device))
    dp_size = root.size // tp_size
    tp: Gang | None = None
    dp: Gang | None = None
    # Every rank creates every group, in the same order, as torch.distributed requires.
    for i in range(dp_size):
        gang = root.create_gang(range(i * tp_size, (i + 1) * tp_size))
        tp = gang if gang is not None else tp
    for j in range(tp_size):
        gang = root.create_gang(range(j, root.size, tp_size))
        dp = gang if gang is not None else dp
    assert tp is not None
    assert dp is not None
    return Gangs(root=root, dp=dp, tp=tp)


def default_device(local_rank: int) -> torch.device:
    """CUDA device ``local_rank`` when CUDA is available, else the CPU.

    A process that sees a single GPU takes it whatever its local rank: SLURM's GPU binding
    (``--gpus-per-task``, ``--gpu-bind``) leaves each task exactly its own device.
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    count = torch.cuda.device_count()
    if count == 1:
        return torch.device("cuda", 0)
    if local_rank >= count:
        raise GangSetupError(
            f"The local rank is {local_rank} but this node has {count} CUDA devices; start "
            "at most one process per GPU (`--nproc-per-node` / `--ntasks-per-node`)."
        )
    return torch.device("cuda", local_rank)


__all__ = ["Gangs", "GangsFactory", "WorldInfo", "default_device", "setup_gangs", "split_gangs"]
