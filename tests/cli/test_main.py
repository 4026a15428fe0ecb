from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

import seqkit
from seqkit.cli import CliCommand, CliGroup
from seqkit.cli.main import EXIT_USER_ERROR, main
from seqkit.errors import SeqkitError
from seqkit.runtime import DependencyContainer


class EchoCommand(CliCommand):
    group = "demo"
    name = "echo"
    help = "print the words"

    def configure(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("words", nargs="+")

    def run(self, args: argparse.Namespace) -> int:
        print(" ".join(args.words))
        return 0


class FailCommand(CliCommand):
    name = "fail"
    help = "raise a user error"

    def run(self, args: argparse.Namespace) -> int:
        raise SeqkitError("The file 'x.yaml' is missing. Create it first.")


class DiskFullCommand(CliCommand):
    name = "full"
    help = "fail the way a full disk does"

    def run(self, args: argparse.Namespace) -> int:
        import errno

        raise OSError(errno.ENOSPC, "No space left on device", "/data/run/tokenizer/spm.model")


@pytest.fixture
def container() -> DependencyContainer:
    container = DependencyContainer()
    container.register_instance(CliGroup, CliGroup(name="demo", help="demo group"), key="demo")
    container.register(CliCommand, lambda _: EchoCommand(), key="demo.echo")
    container.register(CliCommand, lambda _: FailCommand(), key="fail")
    container.register(CliCommand, lambda _: DiskFullCommand(), key="full")
    return container


def test_a_full_disk_is_one_clear_line_naming_the_file(
    container: DependencyContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["full"], container=container) == 1
    err = capsys.readouterr().err
    assert err.startswith("seqkit: error: No space left on device (/data/run/tokenizer/spm.model)")
    assert "free some space" in err
    assert "Traceback" not in err


def test_group_command_runs(
    container: DependencyContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "echo", "hello", "world"], container=container) == 0
    assert capsys.readouterr().out == "hello world\n"


def test_user_error_prints_one_line_and_exits_2(
    container: DependencyContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["fail"], container=container) == EXIT_USER_ERROR
    err = capsys.readouterr().err
    assert err == "seqkit: error: The file 'x.yaml' is missing. Create it first.\n"


def test_debug_flag_shows_the_traceback(container: DependencyContainer) -> None:
    with pytest.raises(SeqkitError, match=r"x\.yaml"):
        main(["--debug", "fail"], container=container)


def test_group_without_command_prints_group_help(
    container: DependencyContainer, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo"], container=container) == EXIT_USER_ERROR
    assert "echo" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(container: DependencyContainer) -> None:
    with pytest.raises(SystemExit) as info:
        main(["nope"], container=container)
    assert info.value.code == 2


def test_console_script_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "seqkit", "--version"], capture_output=True, text=True, check=True
    )
    assert version.stdout.strip() == f"seqkit {seqkit.__version__}"

    help_text = subprocess.run(
        [sys.executable, "-m", "seqkit", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "extensions" in help_text
    assert "--debug" in help_text


def test_setup_is_idempotent_and_thread_safe() -> None:
    import threading

    results: list[DependencyContainer] = []
    threads = [threading.Thread(target=lambda: results.append(seqkit.setup())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(c) for c in results}) == 1
    assert seqkit.setup() is results[0]
