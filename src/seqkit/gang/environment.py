"""Where this process sits in the job, read from torchrun's or SLURM's environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from seqkit.gang.errors import GangSetupError

_FIRST_PORT = 20000
"""SLURM gives no rendezvous port; ports 20000-39999 are derived from the job id so that two
jobs on the same node rarely pick the same one."""


@dataclass(kw_only=True, frozen=True)
class WorldInfo:
    """The position of this process in a multi-process job."""

    rank: int
    """The global rank of this process."""

    size: int
    """The number of processes in the job."""

    local_rank: int
    """The rank of this process among those on its node (selects its GPU)."""

    master_addr: str
    """The host of rank 0, where the rendezvous store listens."""

    master_port: int
    """The port of the rendezvous store."""

    launcher: str
    """``"torchrun"`` or ``"slurm"``: which environment the values came from."""

    @property
    def init_method(self) -> str:
        """The torch.distributed rendezvous URL."""
        host = f"[{self.master_addr}]" if ":" in self.master_addr else self.master_addr
        return f"tcp://{host}:{self.master_port}"


def read_world_info(env: Mapping[str, str]) -> WorldInfo | None:
    """Read the torchrun variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
    ``MASTER_ADDR``, ``MASTER_PORT``) or, failing those, SLURM's (``SLURM_PROCID``,
    ``SLURM_NTASKS``, ``SLURM_LOCALID``, ``SLURM_JOB_NODELIST``, ``SLURM_JOB_ID``);
    ``None`` when neither launcher started this process."""
    if "RANK" in env and "WORLD_SIZE" in env:
        return _make(
            env,
            launcher="torchrun",
            rank=_int(env, "RANK"),
            size=_int(env, "WORLD_SIZE"),
            local_rank=_int(env, "LOCAL_RANK", default=0),
            master_addr=_require(env, "MASTER_ADDR"),
            master_port=_int(env, "MASTER_PORT"),
        )
    if "SLURM_PROCID" in env and ("SLURM_STEP_NUM_TASKS" in env or "SLURM_NTASKS" in env):
        size_key = "SLURM_STEP_NUM_TASKS" if "SLURM_STEP_NUM_TASKS" in env else "SLURM_NTASKS"
        if "MASTER_ADDR" in env:
            master_addr = env["MASTER_ADDR"]
        else:
            nodelist_key = next(
                (
                    k
                    for k in ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST")
                    if k in env
                ),
                None,
            )
            if nodelist_key is None:
                raise GangSetupError(
                    "SLURM_PROCID is set but neither SLURM_JOB_NODELIST nor MASTER_ADDR is; "
                    "start the job with `srun`, or export MASTER_ADDR."
                )
            master_addr = first_hostname(env[nodelist_key])
        if "MASTER_PORT" in env:
            master_port = _int(env, "MASTER_PORT")
        else:
            master_port = _FIRST_PORT + _int(env, "SLURM_JOB_ID", default=0) % 20000
        return _make(
            env,
            launcher="slurm",
            rank=_int(env, "SLURM_PROCID"),
            size=_int(env, size_key),
            local_rank=_int(env, "SLURM_LOCALID", default=0),
            master_addr=master_addr,
            master_port=master_port,
        )
    return None


def first_hostname(nodelist: str) -> str:
    """The first host of a SLURM node list such as ``gpu[003-005,9],login1`` (``gpu003``)."""
    depth, end = 0, len(nodelist)
    for i, char in enumerate(nodelist):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            end = i
            break
    text = nodelist[:end].strip()
    # Each bracket holds ranges or single numbers; the first host takes the first of each.
    host = re.sub(r"\[([^\]\-,\[]*)[^\]\[]*\]", r"\1", text)
    if not host or "[" in host or "]" in host:
        raise GangSetupError(
            f"The SLURM node list {nodelist!r} cannot be parsed; export MASTER_ADDR with the "
            "host name of rank 0."
        )
    return host


def _make(env: Mapping[str, str], **values: object) -> WorldInfo:
    info = WorldInfo(**values)  # type: ignore[arg-type]
    if info.size < 1 or not 0 <= info.rank < info.size:
        raise GangSetupError(
            f"The {info.launcher} environment gives rank {info.rank} of {info.size} "
            "processes; the rank must be between 0 and the size minus 1."
        )
    if info.local_rank < 0:
        raise GangSetupError(f"The local rank must not be negative, but is {info.local_rank}.")
    if not 0 < info.master_port < 65536:
        raise GangSetupError(f"MASTER_PORT must be a TCP port, but is {info.master_port}.")
    return info


def _require(env: Mapping[str, str], key: str) -> str:
    try:
        return env[key]
    except KeyError:
        raise GangSetupError(
            f"{key} is not set although RANK and WORLD_SIZE are; launch with torchrun, or "
            f"export {key}."
        ) from None


def _int(env: Mapping[str, str], key: str, default: int | None = None) -> int:
    if key not in env:
        if default is None:
            _require(env, key)
        assert default is not None
        return default
    try:
        return int(env[key])
    except ValueError:
        raise GangSetupError(
            f"The environment variable {key} must be an integer, but is {env[key]!r}."
        ) from None
