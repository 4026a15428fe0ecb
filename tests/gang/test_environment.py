from __future__ import annotations

import pytest
import torch

from seqkit.gang import (
    FakeGang,
    GangSetupError,
    default_device,
    first_hostname,
    read_world_info,
    setup_gangs,
)


def test_reads_torchrun_variables() -> None:
    info = read_world_info(
        {
            "RANK": "3",
            "WORLD_SIZE": "8",
            "LOCAL_RANK": "1",
            "MASTER_ADDR": "n1",
            "MASTER_PORT": "29500",
        }
    )
    assert info is not None
    assert (info.rank, info.size, info.local_rank, info.launcher) == (3, 8, 1, "torchrun")
    assert info.init_method == "tcp://n1:29500"


def test_torchrun_wins_over_slurm_when_both_are_set() -> None:
    # torchrun inside an srun step: the torchrun ranks are the real ones.
    env = {"RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1234",
           "SLURM_PROCID": "0", "SLURM_NTASKS": "1"}  # fmt: skip
    info = read_world_info(env)
    assert info is not None
    assert info.launcher == "torchrun"
    assert info.local_rank == 0


def test_reads_slurm_variables_and_derives_address_and_port() -> None:
    env = {"SLURM_PROCID": "5", "SLURM_NTASKS": "8", "SLURM_LOCALID": "1",
           "SLURM_JOB_NODELIST": "gpu[007-008,12],cpu1", "SLURM_JOB_ID": "123456"}  # fmt: skip
    info = read_world_info(env)
    assert info is not None
    assert (info.rank, info.size, info.local_rank) == (5, 8, 1)
    assert info.master_addr == "gpu007"
    assert info.master_port == 20000 + 123456 % 20000
    # The step's task count and an explicit MASTER_ADDR/PORT take precedence.
    env |= {"SLURM_STEP_NUM_TASKS": "6", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "4000"}
    info = read_world_info(env)
    assert info is not None
    assert (info.size, info.master_addr, info.master_port) == (6, "10.0.0.1", 4000)


@pytest.mark.parametrize(
    ("nodelist", "first"),
    [
        ("node1", "node1"),
        ("node[01-04]", "node01"),
        ("a[3,5-7]b,c", "a3b"),
        ("rack[2-3]-gpu[10-11]", "rack2-gpu10"),
        ("host-a,host[1-2]", "host-a"),
    ],
)
def test_first_hostname_of_slurm_node_lists(nodelist: str, first: str) -> None:
    assert first_hostname(nodelist) == first


def test_no_launcher_means_no_world() -> None:
    assert read_world_info({"HOME": "/root"}) is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_PORT": "1"}, "MASTER_ADDR is not set"),
        (
            {"RANK": "x", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"},
            "RANK must be an integer",
        ),
        ({"RANK": "2", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "1"}, "rank 2 of 2"),
        ({"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h", "MASTER_PORT": "70000"}, "TCP port"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2"}, "SLURM_JOB_NODELIST"),
        ({"SLURM_PROCID": "0", "SLURM_NTASKS": "2", "SLURM_NODELIST": "a[1"}, "cannot be parsed"),
    ],
)
def test_bad_environments_name_the_variable(env: dict[str, str], message: str) -> None:
    with pytest.raises(GangSetupError, match=message):
        read_world_info(env)


def test_single_process_gets_fake_gangs() -> None:
    gangs = setup_gangs(env={}, device=torch.device("cpu"))
    assert isinstance(gangs.root, FakeGang)
    assert gangs.dp is gangs.root
    assert gangs.tp is gangs.root
    one = {"RANK": "0", "WORLD_SIZE": "1", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    assert isinstance(setup_gangs(env=one).root, FakeGang)
    gangs.close()


def test_setup_rejects_bad_arguments() -> None:
    with pytest.raises(GangSetupError, match="single process"):
        setup_gangs(tp_size=2, env={})
    with pytest.raises(GangSetupError, match="at least 1"):
        setup_gangs(tp_size=0, env={})
    with pytest.raises(GangSetupError, match="positive"):
        setup_gangs(timeout=0, env={})
    three = {"RANK": "0", "WORLD_SIZE": "3", "MASTER_ADDR": "h", "MASTER_PORT": "1"}
    with pytest.raises(GangSetupError, match="must divide the number of processes"):
        setup_gangs(tp_size=2, env=three, device=torch.device("cpu"))


def test_default_device_follows_the_local_rank(monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_device(3) == torch.device("cpu") or torch.cuda.is_available()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert default_device(2) == torch.device("cuda", 2)
    with pytest.raises(GangSetupError, match="local rank is 4 but this node has 4 CUDA"):
        default_device(4)
    # A task bound to one GPU by SLURM sees only that one, as device 0.
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert default_device(5) == torch.device("cuda", 0)
